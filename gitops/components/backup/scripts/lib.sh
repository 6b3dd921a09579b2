# Shared by the backup scripts (sourced, never run). Connection settings are libpq's own
# environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD); in the cluster the
# user and password come from postgres-secret mounted as files, named by PGUSER_FILE and
# PGPASSWORD_FILE, so no secret sits in the pod's environment.
set -euo pipefail
# Dumps, checksums and count manifests are readable by their owner only.
umask 077

BACKUP_DIR="${BACKUP_DIR:-/backups}"

log() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

if [[ -n "${PGUSER_FILE:-}" ]]; then PGUSER="$(cat "$PGUSER_FILE")" && export PGUSER; fi
if [[ -n "${PGPASSWORD_FILE:-}" ]]; then PGPASSWORD="$(cat "$PGPASSWORD_FILE")" && export PGPASSWORD; fi

# Waits until the server accepts connections (a restore right after the pod came back).
wait_for_server() {
  local deadline=$((SECONDS + ${WAIT_SECONDS:-300}))
  until pg_isready -q -t 5; do
    ((SECONDS < deadline)) || die "PostgreSQL at ${PGHOST:-local socket}:${PGPORT:-5432} did not answer in time"
    sleep 2
  done
}

# One line per user table, "schema.table<TAB>rows", sorted: run inside a transaction it counts
# that transaction's snapshot, which is how a dump's manifest matches the dump exactly.
# shellcheck disable=SC2034
readonly COUNT_ROWS_SQL="SELECT format('%I.%I', schemaname, tablename) AS t,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text
  FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY t;"

# Row counts of the database the libpq settings name, in the format above.
count_rows() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 -F $'\t' -c "$COUNT_ROWS_SQL"
}

# The dumps, oldest first. Names carry a UTC timestamp, so name order is time order.
list_dumps() {
  find "$BACKUP_DIR" -maxdepth 1 -type f -name '*.dump' -printf '%f\n' | sort
}

# A dump by name, or the newest one for "latest" (or nothing).
resolve_dump() {
  local name="${1:-latest}" file
  if [[ "$name" == latest ]]; then
    name="$(list_dumps | tail -n 1)"
    [[ -n "$name" ]] || die "no dump in $BACKUP_DIR"
  fi
  file="$BACKUP_DIR/$(basename "$name")"
  [[ -f "$file" ]] || die "no dump named $name in $BACKUP_DIR (have: $(list_dumps | tr '\n' ' '))"
  printf '%s\n' "$file"
}
