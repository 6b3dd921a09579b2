#!/usr/bin/env bash
# The second cluster provider behind the real-cluster suite: kind, where Docker and the image
# registries are reachable (the GitHub workflow .github/workflows/cluster-kind.yaml). It builds the
# Dockerfile's three targets with Docker, the REAL migrate image included (Prisma's schema engine
# downloads there), loads them into the kind node, adds metrics-server (the pinned build in a
# scratch image), and writes the same $PYTHON_API_CLUSTER_DIR/cluster.env the suite reads.
#
#   PYTHON_API_CLUSTER_PROVIDER=kind npm run test:cluster -- tests/cluster/product.test.ts
#
# kind's own CNI (kindnet) enforces NetworkPolicies and its local-path StorageClass binds the claim.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# shellcheck source=tools/versions.env
source "$ROOT/tools/versions.env"
STATE="${PYTHON_API_CLUSTER_DIR:-/var/tmp/python-api-cluster}"
NAME=python-api
NODE="$NAME-control-plane"
export PATH="$ROOT/.tools/bin:$PATH"

bash "$ROOT/scripts/install-tools.sh" kind kubectl metrics-server >&2
bash "$(dirname "${BASH_SOURCE[0]}")/down.sh" >&2
mkdir -p "$STATE"
export KUBECONFIG="$STATE/kubeconfig"
kind create cluster --name "$NAME" --kubeconfig "$KUBECONFIG" --wait 180s >&2

# The tags the dev overlay's release pin names.
tag="$(sed -n 's/^ *newTag: "\(.*\)"$/\1/p' "$ROOT/gitops/overlays/dev/release/kustomization.yaml" | sort -u)"
[[ "$(wc -l <<<"$tag")" == 1 ]] || { echo "kind/up.sh: the dev release pins differing tags: $tag" >&2; exit 1; }
for pair in runtime=python-api migrate=python-api-migrate dev=python-api-dev; do
  target="${pair%%=*}"
  image="${pair#*=}:$tag"
  docker build --target "$target" --tag "$image" "$ROOT" >&2
  kind load docker-image --name "$NAME" "$image" >&2
done

metrics_image="python-api-cluster/metrics-server:$METRICS_SERVER_VERSION"
docker build --tag "$metrics_image" --file - "$ROOT/.tools/bin" >&2 <<'DOCKERFILE'
FROM scratch
COPY metrics-server /metrics-server
USER 65534:65534
ENTRYPOINT ["/metrics-server"]
DOCKERFILE
kind load docker-image --name "$NAME" "$metrics_image" >&2
sed "s|METRICS_SERVER_IMAGE|$metrics_image|" "$(dirname "${BASH_SOURCE[0]}")/metrics-server.yaml" | kubectl apply -f - >&2
kubectl -n kube-system rollout status deployment/metrics-server --timeout=180s >&2

cat >"$STATE/cluster.env" <<ENV
KUBECONFIG=$KUBECONFIG
NODE_NAME=$NODE
NODE_IP=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NODE")
NODE_EXEC=docker exec -i $NODE
CONTAINERD_ADDRESS=/run/containerd/containerd.sock
CONTAINERD_NAMESPACE=k8s.io
ENV
echo "$KUBECONFIG"
