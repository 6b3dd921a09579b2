#!/usr/bin/env bash
# Runs a command inside the running cluster's node: its network and mount namespaces, and the
# cluster's cgroup (so scripts/cluster/down.sh stops it with everything else).
#
#   sudo scripts/cluster/node-exec.sh iptables-save              # the node's firewall
#   sudo scripts/cluster/node-exec.sh --daemon buildkitd buildkitd --containerd-worker=true ...
#        # background, output in $PYTHON_API_CLUSTER_DIR/logs/buildkitd.log, PID in pids/buildkitd.pid
set -euo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
node_running || die "no running cluster under $STATE (run scripts/cluster/up.sh)"

if [[ "${1:-}" == --daemon ]]; then
  [[ $# -ge 3 ]] || die "usage: node-exec.sh --daemon NAME COMMAND [ARGS...]"
  name="$2"
  shift 2
  node_daemon "$name" "$@"
  cat "$PIDS/$name.pid"
  exit 0
fi
[[ $# -ge 1 ]] || die "usage: node-exec.sh COMMAND [ARGS...] | --daemon NAME COMMAND [ARGS...]"
cgroup_enter "$$" "$CGROUP_NAME/system"
exec nsenter --target "$(node_pid)" --net --mount -- "$@"
