#!/usr/bin/env bash
# Deletes the kind cluster of scripts/cluster/kind/up.sh and its cluster.env (nothing else to undo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
STATE="${PYTHON_API_CLUSTER_DIR:-/var/tmp/python-api-cluster}"
export PATH="$ROOT/.tools/bin:$PATH"
if kind get clusters 2>/dev/null | grep -qx python-api; then
  kind delete cluster --name python-api
fi
rm -f "$STATE/cluster.env" "$STATE/kubeconfig"
