#!/usr/bin/env bash
# Runs one of the backup Jobs in the cluster now, waits for it and prints its log:
#
#   scripts/backup/run-job.sh backup            # a backup now (CronJob postgres-backup)
#   scripts/backup/run-job.sh list              # the dumps there are, newest last
#   scripts/backup/run-job.sh restore [DUMP]    # restore DUMP (a file name) or the newest
#   scripts/backup/run-job.sh drill [DUMP]      # restore drill into a throwaway server
#
# Exits non-zero when the Job fails. kubectl's current context is used; NAMESPACE (default
# python-api-ns) and KUBECTL (default kubectl) override. Runbook: docs/backup-restore.md.
set -euo pipefail

NAMESPACE="${NAMESPACE:-python-api-ns}"
KUBECTL="${KUBECTL:-kubectl}"
TIMEOUT="${TIMEOUT:-3600}" # seconds
action="${1:-}"
dump="${2:-latest}"
k() { $KUBECTL -n "$NAMESPACE" "$@"; }

case "$action" in
  backup) cronjob=postgres-backup ;;
  restore | list) cronjob=postgres-restore ;;
  drill) cronjob=postgres-restore-drill ;;
  *)
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
[[ "$action" == list ]] && dump=list

job="$cronjob-manual-$(date -u +%Y%m%d%H%M%S)"
# The Job is the CronJob's own template (owned by it, so its success counts for the
# CronJob's status too), with DUMP set for restore and drill.
# (kubectl set env prints nothing when the value is already the template's "latest".)
if [[ "$action" == backup || "$dump" == latest ]]; then
  k create job "$job" --from="cronjob/$cronjob" >/dev/null
else
  k create job "$job" --from="cronjob/$cronjob" --dry-run=client -o yaml |
    $KUBECTL set env --local -f - "DUMP=$dump" -o yaml |
    k create -f - >/dev/null
fi
echo "job/$job created; waiting up to $TIMEOUT s" >&2

conditions() { k get job "$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}'; }
finished() { [[ " $1 " == *" Complete "* || " $1 " == *" Failed "* ]]; }
deadline=$((SECONDS + TIMEOUT))
state=""
until finished "$state" || ((SECONDS >= deadline)); do
  sleep 2
  state="$(conditions)"
done
k logs "job/$job" --all-containers --tail=-1 || true
if [[ " $state " == *" Complete "* ]]; then
  echo "job/$job: Complete" >&2
else
  echo "job/$job: FAILED (${state:-no result within $TIMEOUT s}); kubectl -n $NAMESPACE describe job $job" >&2
  exit 1
fi
