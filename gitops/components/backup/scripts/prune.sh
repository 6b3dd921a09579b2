#!/usr/bin/env bash
# prune.sh: keeps the newest $RETENTION dumps (default 7: a week of daily backups) with their
# checksum and row-count files, removes older ones and leftovers of interrupted runs.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RETENTION="${RETENTION:-7}"
[[ "$RETENTION" =~ ^[1-9][0-9]*$ ]] || die "RETENTION must be a positive number, not '$RETENTION'"

mapfile -t dumps < <(list_dumps)
excess=$((${#dumps[@]} - RETENTION))
for ((i = 0; i < excess; i++)); do
  name="${dumps[$i]}"
  rm -f -- "$BACKUP_DIR/$name" "$BACKUP_DIR/$name.sha256" "$BACKUP_DIR/$name.counts"
  log "pruned $name"
done
# A run that died mid-dump leaves its partial file; only one backup runs at a time
# (concurrencyPolicy: Forbid), so any partial file left now is garbage.
find "$BACKUP_DIR" -maxdepth 1 -type f -name '.*.partial' -delete
log "kept $(list_dumps | wc -l) dumps (retention $RETENTION)"
