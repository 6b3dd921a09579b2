#!/usr/bin/env bash
# backup.sh: one logical backup of $PGDATABASE into $BACKUP_DIR.
#   1. pg_dump -Fc inside a REPEATABLE READ transaction whose snapshot it shares, so the row
#      counts written beside the dump (NAME.counts) describe exactly what the dump holds;
#   2. verify.sh on the finished file; only then is it renamed to NAME.dump and counts;
#   3. prune.sh to the retention.
# Exits non-zero when any step fails: the Job fails, and its CronJob's last successful time
# (the metric the alert watches) stays where it was.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(dirname "${BASH_SOURCE[0]}")"

: "${PGDATABASE:?PGDATABASE names the database to back up}"
mkdir -p "$BACKUP_DIR"
wait_for_server

name="$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$BACKUP_DIR/.$name.partial"
started=$SECONDS

# One session holds the snapshot open while pg_dump reads it and the rows are counted.
coproc SNAPSHOT { exec psql -X -q -A -t -v ON_ERROR_STOP=1 -F $'\t'; }
# Bash unsets SNAPSHOT_PID once the coprocess has exited: keep the pid for the final wait.
snapshot_pid=$SNAPSHOT_PID
to_snapshot() { printf '%s\n' "$@" >&"${SNAPSHOT[1]}"; }
to_snapshot "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;" "SELECT pg_export_snapshot();"
IFS= read -r -t 60 snapshot <&"${SNAPSHOT[0]}" || die "could not open a snapshot on $PGDATABASE"

pg_dump --format=custom --snapshot="$snapshot" --file="$partial" || die "pg_dump failed"

to_snapshot "$COUNT_ROWS_SQL" '\echo __end__'
counts=""
while IFS= read -r -t 300 line <&"${SNAPSHOT[0]}"; do
  [[ "$line" == __end__ ]] && break
  counts+="$line"$'\n'
done
[[ "$line" == __end__ ]] || die "could not count the rows of the dump's snapshot"
to_snapshot "COMMIT;" '\q'
wait "$snapshot_pid" 2>/dev/null || true

bash "$here/verify.sh" "$partial" || {
  rm -f -- "$partial"
  die "the new dump did not verify; it was removed and the previous dumps are kept"
}
printf '%s' "$counts" >"$BACKUP_DIR/$name.counts"
(cd "$BACKUP_DIR" && sha256sum "$(basename "$partial")" | sed "s/ \\.$name\\.partial\$/ $name/" >"$name.sha256")
mv -- "$partial" "$BACKUP_DIR/$name"
log "backup $name: $(stat -c %s "$BACKUP_DIR/$name") bytes, $(wc -l <"$BACKUP_DIR/$name.counts") tables, $((SECONDS - started)) s"

bash "$here/prune.sh"
printf '%s\n' "$name"
