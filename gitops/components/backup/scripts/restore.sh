#!/usr/bin/env bash
# restore.sh [NAME|latest]: replaces the contents of $PGDATABASE with a verified dump, in one
# transaction (all or nothing), then checks every table's row count against the counts taken
# with the dump. Objects of the dump are dropped and recreated; anything else in the
# database is left alone.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(dirname "${BASH_SOURCE[0]}")"

: "${PGDATABASE:?PGDATABASE names the database to restore into}"
file="$(resolve_dump "${1:-${DUMP:-latest}}")"
bash "$here/verify.sh" "$file"
wait_for_server
started=$SECONDS
log "restoring $(basename "$file") into $PGDATABASE"
pg_restore --dbname="$PGDATABASE" --clean --if-exists --no-owner --single-transaction --exit-on-error "$file" ||
  die "pg_restore failed; the transaction was rolled back, $PGDATABASE is as it was"
log "restored in $((SECONDS - started)) s"
bash "$here/compare-counts.sh" "$file.counts"
