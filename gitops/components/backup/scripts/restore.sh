#!/usr/bin/env bash
# restore.sh [NAME|latest|list]: replaces the contents of $PGDATABASE with a verified dump, in one
# transaction (all or nothing), then checks every table's row count against the counts taken
# with the dump. Objects of the dump are dropped and recreated; anything else in the
# database is left alone.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(dirname "${BASH_SOURCE[0]}")"

: "${PGDATABASE:?PGDATABASE names the database to restore into}"
if [[ "${1:-${DUMP:-latest}}" == list ]]; then
  # Only shows what there is to restore, newest last; touches no database.
  for name in $(list_dumps); do
    printf '%s\t%s bytes\t%s rows\n' "$name" "$(stat -c %s "$BACKUP_DIR/$name")" \
      "$(awk -F '\t' '{ s += $2 } END { print s + 0 }' "$BACKUP_DIR/$name.counts" 2>/dev/null)"
  done
  exit 0
fi
file="$(resolve_dump "${1:-${DUMP:-latest}}")"
bash "$here/verify.sh" "$file"
wait_for_server
started=$SECONDS
log "restoring $(basename "$file") into $PGDATABASE"
pg_restore --dbname="$PGDATABASE" --clean --if-exists --no-owner --single-transaction --exit-on-error "$file" ||
  die "pg_restore failed; the transaction was rolled back, $PGDATABASE is as it was"
log "restored in $((SECONDS - started)) s"
bash "$here/compare-counts.sh" "$file.counts"
