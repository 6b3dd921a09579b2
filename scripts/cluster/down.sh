#!/usr/bin/env bash
# Tears down the cluster scripts/cluster/up.sh started, and proves the host is as it was.
#
#   sudo scripts/cluster/down.sh               # stop, remove $PYTHON_API_CLUSTER_DIR (logs too)
#   sudo scripts/cluster/down.sh --keep-logs   # keep $PYTHON_API_CLUSTER_DIR/logs for a post-mortem
#   sudo scripts/cluster/down.sh --quiet       # say nothing when there is nothing to remove
#
# 1. every process in our cgroup (/python-api-cluster, the state dir's name: daemons, forwarders, containers, the
#    holder of the node's namespaces) and any other process inside the node's network namespace
#    gets SIGTERM, then SIGKILL (frozen first, so nothing forks away while it is killed);
# 2. the namespaces die with their last process, and with them every mount, link, address,
#    route and iptables rule of the node;
# 3. our cgroups are removed depth-first in every hierarchy;
# 4. the host's state (scripts/cluster/host-state.sh) is compared with the snapshot up.sh took;
#    a difference is printed and fails the script (exit 2).
set -euo pipefail

# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep_logs=false
quiet=false
for arg in "$@"; do
  case "$arg" in
    --keep-logs) keep_logs=true ;;
    --quiet) quiet=true ;;
    *) die "unknown argument $arg (use --keep-logs, --quiet)" ;;
  esac
done
require_root

say() { printf 'cluster down: %s\n' "$*" >&2; }

# Processes whose network namespace is the node's (a helper may have entered it with plain nsenter).
node_netns_pids() {
  local netns pid
  netns="$(cat "$STATE/node.netns" 2>/dev/null)" || return 0
  [[ -n "$netns" ]] || return 0
  for pid in /proc/[0-9]*; do
    [[ "$(readlink "$pid/ns/net" 2>/dev/null)" == "$netns" ]] && echo "${pid#/proc/}"
  done
}

all_pids() { { cgroup_pids; node_netns_pids; } | sort -un | grep -vx "$$" || true; }

describe() {
  local pid
  for pid in "$@"; do
    printf '  %s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100)"
  done
}

freeze() {
  local f="$CGROUP_FS/freezer/$CGROUP_NAME/freezer.state"
  if [[ -f "$f" ]]; then echo "$1" >"$f" 2>/dev/null || true; fi
}

stop_processes() {
  local pids
  mapfile -t pids < <(all_pids)
  ((${#pids[@]})) || return 0
  say "stopping ${#pids[@]} processes:"
  describe "${pids[@]}" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # A container's PID 1 without a SIGTERM handler ignores it: a short grace, then SIGKILL.
  local deadline=$((SECONDS + 5))
  while ((SECONDS < deadline)) && [[ -n "$(all_pids)" ]]; do sleep 0.2; done
  deadline=$((SECONDS + 20))
  while [[ -n "$(all_pids)" ]]; do
    ((SECONDS < deadline)) || {
      say "processes survive SIGKILL:"
      mapfile -t pids < <(all_pids)
      describe "${pids[@]}" >&2
      return 1
    }
    freeze FROZEN
    mapfile -t pids < <(all_pids)
    if ((${#pids[@]})); then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
    freeze THAWED
    sleep 0.2
  done
}

remove_cgroups() {
  local h removed=0
  while read -r h; do
    [[ -d "$h/$CGROUP_NAME" ]] || continue
    while read -r dir; do
      rmdir "$dir" && removed=$((removed + 1))
    done < <(find "$h/$CGROUP_NAME" -depth -type d)
  done < <(cgroup_hierarchies)
  ((removed == 0)) || say "removed $removed cgroups (/$CGROUP_NAME in every hierarchy)"
}

wait_namespace_gone() {
  local deadline=$((SECONDS + 10))
  while [[ -n "$(node_netns_pids)" ]]; do
    ((SECONDS < deadline)) || die "the node's network namespace still has processes"
    sleep 0.2
  done
}

check_host() {
  local before="$STATE/host-before.txt" after
  [[ -f "$before" ]] || return 0
  after="$(mktemp)"
  "$CLUSTER_SCRIPTS/host-state.sh" >"$after"
  if ! diff -u "$before" "$after" >"$after.diff"; then
    say "the host differs from its state before up.sh:"
    cat "$after.diff" >&2
    rm -f "$after" "$after.diff"
    return 2
  fi
  rm -f "$after" "$after.diff"
  say "host unchanged: firewall, ipsets, links, addresses, routes, mounts, sysctls, default kubelet/CNI paths (compared with the snapshot before up.sh)"
}

main() {
  if [[ ! -d "$STATE" && -z "$(cgroup_pids)" ]] && ! compgen -G "$CGROUP_FS/*/$CGROUP_NAME" >/dev/null; then
    $quiet || say "nothing to tear down ($STATE does not exist)"
    return 0
  fi
  local started=$SECONDS rc=0
  stop_processes
  wait_namespace_gone
  if [[ -f "$STATE/node.netns" ]]; then say "node namespaces gone ($(cat "$STATE/node.netns") and its mount namespace)"; fi
  remove_cgroups
  # Mounts of the node lived in its own mount namespace; none may show on the host.
  if findmnt -rn -o TARGET | grep -qF "$STATE"; then
    say "mounts under $STATE remain on the host:"
    findmnt -rn -o TARGET | grep -F "$STATE" >&2
    rc=2
  fi
  check_host || rc=2
  if $keep_logs && [[ -d "$LOGS" ]]; then
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    say "removed $STATE (kept its logs/)"
  elif [[ -d "$STATE" ]]; then
    rm -rf "$STATE"
    say "removed $STATE"
  fi
  say "done in $((SECONDS - started))s"
  return "$rc"
}

main
