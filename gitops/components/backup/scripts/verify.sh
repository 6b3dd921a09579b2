#!/usr/bin/env bash
# verify.sh FILE: exits 0 only when FILE is a readable custom-format dump of a database with
# tables. pg_restore --list reads the table of contents only (it sits at the start of the file,
# so a truncated dump still lists); reading every data block through pg_restore into /dev/null
# also catches truncation and corrupt compressed data.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

file="${1:?usage: verify.sh FILE}"
[[ -s "$file" ]] || die "$file is missing or empty"
toc="$(pg_restore --list "$file")" || die "$file: pg_restore --list cannot read the table of contents"
tables="$(grep -c ' TABLE DATA ' <<<"$toc" || true)"
((tables > 0)) || die "$file: the table of contents lists no table data"
pg_restore --file=/dev/null "$file" || die "$file: a data block cannot be read back"
if [[ -f "$file.sha256" ]]; then
  (cd "$(dirname "$file")" && sha256sum --check --status "$(basename "$file").sha256") ||
    die "$file: the checksum recorded when it was written does not match"
fi
log "verified $file: $tables tables with data"
