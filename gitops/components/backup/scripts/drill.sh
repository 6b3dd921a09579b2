#!/usr/bin/env bash
# drill.sh [NAME|latest]: the restore drill. Restores a dump (the newest by default) into a
# throwaway PostgreSQL started here on $DRILL_DIR (an emptyDir in the pod), reachable only
# through its own socket, and compares every table's row count with the source's counts in
# the dump's snapshot. Exits non-zero, printing the differences, on any mismatch.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(dirname "${BASH_SOURCE[0]}")"

file="$(resolve_dump "${1:-${DUMP:-latest}}")"
bash "$here/verify.sh" "$file"

DRILL_DIR="${DRILL_DIR:-/drill}"
data="$DRILL_DIR/data"
socket="$DRILL_DIR/socket"
rm -rf -- "$data" "$socket"
mkdir -p "$data" "$socket"
stop_server() { pg_ctl stop -D "$data" -m immediate >/dev/null 2>&1 || true; }
trap stop_server EXIT

# From here on every libpq setting points at the throwaway server, never the source (the
# server itself also reads PGPORT, so it must not inherit the source's).
export PGHOST="$socket" PGPORT=5432 PGUSER=drill PGDATABASE=drill
unset PGPASSWORD

started=$SECONDS
initdb --pgdata="$data" --username=drill --auth=trust --no-instructions >/dev/null || die "initdb failed"
pg_ctl start --pgdata="$data" --wait --log="$DRILL_DIR/server.log" \
  -o "-c listen_addresses='' -c port=$PGPORT -c unix_socket_directories='$socket' -c fsync=off" >/dev/null ||
  { cat "$DRILL_DIR/server.log" >&2; die "the throwaway server did not start"; }

psql -X -q -d postgres -c 'CREATE DATABASE drill' || die "could not create the drill database"
pg_restore --dbname=drill --no-owner --no-privileges --exit-on-error "$file" || die "pg_restore into the throwaway server failed"
bash "$here/compare-counts.sh" "$file.counts"
log "DRILL PASSED: $(basename "$file") restores completely in $((SECONDS - started)) s"
