#!/usr/bin/env bash
# Makes a port of the node (a NodePort, or anything listening on the node IP) reachable from the
# host, on loopback only: 127.0.0.1:HOST_PORT -> unix socket -> NODE_IP:NODE_PORT in the node.
# Prints 127.0.0.1:HOST_PORT. The forwarder lives until scripts/cluster/down.sh.
#
#   sudo scripts/cluster/expose.sh 30080          # HOST_PORT: the first free port from 30080 up
#   sudo scripts/cluster/expose.sh 30080 18080
set -euo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
[[ $# -ge 1 && $# -le 2 && "$1" =~ ^[0-9]+$ ]] || die "usage: expose.sh NODE_PORT [HOST_PORT]"
node_running || die "no running cluster under $STATE (run scripts/cluster/up.sh)"
node_port="$1"
if [[ $# -eq 2 ]]; then
  host_port="$2"
  [[ -z "$(ss -Hltn "sport = :$host_port")" ]] || die "127.0.0.1:$host_port is already in use"
else
  host_port="$(free_host_port "$node_port")"
fi
forward_port "nodeport-$node_port-$host_port" "$host_port" "$NODE_IP:$node_port"
echo "127.0.0.1:$host_port"
