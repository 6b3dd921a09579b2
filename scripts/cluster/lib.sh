# Shared by scripts/cluster/*.sh: where the cluster lives, its fixed addresses, and how a
# process is started inside the node (its network + mount namespaces and our own cgroup).
# Sourced, never run. Everything the cluster creates is under $STATE or in $CGROUP_NAME.
# shellcheck shell=bash disable=SC2034

CLUSTER_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CLUSTER_SCRIPTS/../.." && pwd)"
STATE="${PYTHON_API_CLUSTER_DIR:-/var/tmp/python-api-cluster}"

NODE_NAME=python-api-node
# Every address lives in 198.18.0.0/15 (benchmarking range, never routed off this machine).
NODE_IP=198.18.0.1
POD_CIDR=198.18.1.0/24
SERVICE_CIDR=198.19.0.0/16
KUBERNETES_SERVICE_IP=198.19.0.1
CLUSTER_DNS=198.19.0.10
CLUSTER_DOMAIN=cluster.local
# Routes the pods get: nothing outside the range, so nothing can leave.
CLUSTER_RANGE=198.18.0.0/15
APISERVER_NODE_PORT=6443

# One cgroup of ours in every hierarchy: kubelet's cgroupRoot (pods) and system (the daemons).
# Named after the state dir, so clusters with different PYTHON_API_CLUSTER_DIRs never share one.
CGROUP_NAME="$(basename "$STATE")"
[[ "$CGROUP_NAME" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || {
  echo "cluster: ERROR: the state dir's name '$CGROUP_NAME' is not usable as a cgroup name" >&2
  exit 1
}
CGROUP_FS=/sys/fs/cgroup

LOGS="$STATE/logs"
PIDS="$STATE/pids"
PKI="$STATE/pki"
RUN="$STATE/run"
ENV_FILE="$STATE/cluster.env"
CONTAINERD_SOCK="$STATE/containerd/containerd.sock"
NODE_ROOT="$STATE/node"

# A closed loopback port: anything that tries to pull or phone home fails at once.
NO_PROXY_PORT=9
CLOSED_PROXY="http://127.0.0.1:$NO_PROXY_PORT"

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  printf 'cluster: ERROR: %s\n' "$*" >&2
  exit 1
}

require_root() { [[ $EUID -eq 0 ]] || die "run as root (the node needs namespaces, cgroups and mounts)"; }

# The cgroup v1/v2 hierarchies mounted under /sys/fs/cgroup (one directory per hierarchy).
cgroup_hierarchies() {
  local dir
  for dir in "$CGROUP_FS"/*/; do
    dir="${dir%/}"
    [[ -f "$dir/cgroup.procs" ]] && echo "$dir"
  done
}

# Creates <hierarchy>/<path> everywhere; cpuset children need cpus/mems before they take tasks.
cgroup_create() {
  local path="$1" h parent
  while read -r h; do
    parent="$(dirname "$h/$path")"
    mkdir -p "$h/$path"
    if [[ -f "$h/$path/cpuset.cpus" && -z "$(cat "$h/$path/cpuset.cpus")" ]]; then
      cat "$parent/cpuset.cpus" >"$h/$path/cpuset.cpus"
      cat "$parent/cpuset.mems" >"$h/$path/cpuset.mems"
    fi
  done < <(cgroup_hierarchies)
}

# Moves process $1 into <hierarchy>/<path> in every hierarchy.
cgroup_enter() {
  local pid="$1" path="$2" h
  while read -r h; do
    echo "$pid" >"$h/$path/cgroup.procs"
  done < <(cgroup_hierarchies)
}

# Every PID in our cgroup tree (the pids hierarchy, else the first one).
cgroup_pids() {
  local h
  for h in $(cgroup_hierarchies); do
    [[ -d "$h/$CGROUP_NAME" ]] || continue
    find "$h/$CGROUP_NAME" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

node_pid() { cat "$PIDS/node.pid" 2>/dev/null; }
node_running() {
  local pid
  pid="$(node_pid)" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# Starts "$@" in the background inside the node's namespaces and our system cgroup, output to
# $LOGS/<name>.log, PID in $PIDS/<name>.pid. setsid: it outlives the shell that started it.
node_daemon() {
  local name="$1"
  shift
  local pid
  pid="$(node_pid)"
  [[ -n "$pid" ]] || die "the node is not running (no $PIDS/node.pid)"
  (
    cgroup_enter "$BASHPID" "$CGROUP_NAME/system"
    exec setsid nsenter --target "$pid" --net --mount -- "$@"
  ) >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

# Same, but on the host (the loopback side of the forwarders): still in our cgroup.
host_daemon() {
  local name="$1"
  shift
  (
    cgroup_enter "$BASHPID" "$CGROUP_NAME/system"
    exec setsid "$@"
  ) >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

# Runs "$@" in the node's namespaces, in the foreground.
node_run() {
  local pid
  pid="$(node_pid)"
  [[ -n "$pid" ]] || die "the node is not running (no $PIDS/node.pid)"
  nsenter --target "$pid" --net --mount -- "$@"
}

# Something listens on TCP port $1: on the host (listening), in the node (node_listening).
listening() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }
node_listening() { [[ -n "$(node_run ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

# First port >= $1 that nothing on the host listens on (TCP, loopback).
free_host_port() {
  local port="$1"
  while listening "$port"; do port=$((port + 1)); done
  echo "$port"
}

# Host loopback 127.0.0.1:<host port> -> unix socket in $RUN -> node IP:<node port>, two socats:
# the host never gets an address, route or firewall rule of the cluster's.
forward_port() {
  local name="$1" host_port="$2" target="$3" sock="$RUN/$1.sock"
  rm -f "$sock"
  node_daemon "forward-$name-node" socat "UNIX-LISTEN:$sock,fork,mode=600" "TCP:$target"
  wait_for 5 "forwarder $name: $sock (see $LOGS/forward-$name-node.log)" test -S "$sock"
  host_daemon "forward-$name-host" socat "TCP-LISTEN:$host_port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$sock"
  wait_for 5 "forwarder $name: a listener on 127.0.0.1:$host_port (see $LOGS/forward-$name-host.log)" \
    listening "$host_port"
}

# The other direction, for a service on the host that pods use (dev-loop.sh's npm registry):
# NODE_IP:<node port> inside the node -> unix socket in $RUN -> <target> on the host's loopback.
# Pods reach the node IP through their route to the cluster range; the host gets no address,
# route or firewall rule, and the service itself listens on the host's loopback only.
forward_port_to_host() {
  local name="$1" node_port="$2" target="$3" sock="$RUN/$1.sock"
  rm -f "$sock"
  host_daemon "forward-$name-host" socat "UNIX-LISTEN:$sock,fork,mode=600" "TCP:$target"
  wait_for 5 "forwarder $name: $sock (see $LOGS/forward-$name-host.log)" test -S "$sock"
  node_daemon "forward-$name-node" socat "TCP-LISTEN:$node_port,bind=$NODE_IP,reuseaddr,fork" "UNIX-CONNECT:$sock"
  wait_for 5 "forwarder $name: a listener on $NODE_IP:$node_port in the node (see $LOGS/forward-$name-node.log)" \
    node_listening "$node_port"
}

# Installs the Debian packages of "$@" that are missing; apt's output goes to the log file $1.
# Packages with a service (containerd, docker.io) would start it on the host: while installing,
# a policy-rc.d forbids starting services (unless the machine already has one).
apt_install() {
  local log="$1" missing=() pkg policy_added=false rc=0
  shift
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "apt-get install ${missing[*]}"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    policy_added=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
    { apt-get update >>"$log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; } ||
    rc=$?
  if $policy_added; then rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || die "apt-get install ${missing[*]} failed (see $log)"
}

# Waits until "$@" succeeds, up to $1 seconds.
wait_for() {
  local seconds="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what"
    sleep 0.5
  done
}
