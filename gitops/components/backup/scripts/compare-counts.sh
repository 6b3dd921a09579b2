#!/usr/bin/env bash
# compare-counts.sh COUNTS: compares the row counts of every table in $PGDATABASE with the
# manifest written with the dump; prints a diff and exits 1 on any difference.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expected="${1:?usage: compare-counts.sh FILE.counts}"
[[ -f "$expected" ]] || die "no row counts at $expected: cannot check the restore"
actual="$(count_rows)" || die "could not count the rows of $PGDATABASE"
if ! diff -u --label "dump ($(basename "$expected"))" --label "restored ($PGDATABASE)" "$expected" <(printf '%s\n' "$actual") >&2; then
  die "ROW COUNT MISMATCH between the dump and $PGDATABASE (diff above)"
fi
log "row counts match the dump: $(wc -l <"$expected") tables, $(awk -F '\t' '{ s += $2 } END { print s + 0 }' "$expected") rows"
