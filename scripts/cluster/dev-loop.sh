#!/usr/bin/env bash
# What `tilt up` needs from the running single-node cluster (scripts/cluster/up.sh) beside its
# API server, set up the way kind + a local registry (or Minikube's registry addon) give it to
# a developer:
#   - a Docker Engine (Debian's docker.io) for Tilt's docker_build. It runs in a mount
#     namespace of its own on the host's network, with no bridge, no iptables rules and no
#     forwarding: the host's firewall, links and sysctls stay untouched. Without a bridge, RUN
#     steps need `--build-network host` (a Tiltfile setting); they then reach the npm registry
#     as every other build here does;
#   - an image registry (distribution) inside the node, on the node's loopback, forwarded to
#     the host's loopback at the same port: the engine pushes to localhost:PORT, containerd
#     pulls from localhost:PORT (plain HTTP, told by a hosts.toml under its config_path);
#   - the ConfigMap kube-public/local-registry-hosting (KEP-1755): Tilt discovers the registry
#     there, so the Tiltfile names none;
#   - an npm registry the pods can reach, for live update's `npm ci` after a lockfile change:
#     pods here have no route off the machine. Verdaccio (tool verdaccio) runs on the host's
#     loopback with the host's own npm registry as its uplink (what a team's npm mirror is to a
#     developer), and is forwarded into the node at NODE_IP:PORT, which the pods reach through
#     their route to the cluster range. `tilt up -- --npm-registry URL` (a Tiltfile setting) points
#     the API container's npm at it;
#   - the images the engine cannot pull: the Dockerfile's FROM node:<tag> (the base
#     scripts/cluster/images.sh builds) and the `# syntax=docker/dockerfile:1` frontend, built
#     here from BuildKit's own source (tool buildkit, binary dockerfile-frontend); and in
#     containerd the PostgreSQL and exporter images the StatefulSet runs (images.sh --bases-only).
#
#   sudo scripts/cluster/dev-loop.sh start   # prints DOCKER_HOST=..., REGISTRY=... and NPM_REGISTRY=... lines
#   sudo scripts/cluster/dev-loop.sh stop    # (scripts/cluster/down.sh stops it too)
#
# Environment: PYTHON_API_REGISTRY_PORT (default 5001; 5000 is the API's port-forward),
# PYTHON_API_NPM_REGISTRY_PORT (default 4873, Verdaccio's own; the same port on host loopback and NODE_IP).
set -euo pipefail
# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
[[ $# -eq 1 && "$1" =~ ^(start|stop)$ ]] || die "usage: dev-loop.sh start|stop"

REGISTRY_PORT="${PYTHON_API_REGISTRY_PORT:-5001}"
REGISTRY="localhost:$REGISTRY_PORT"
DOCKER_SOCK="$RUN/docker.sock"
DOCKER_ROOT="$STATE/docker"
BIN="$ROOT/.tools/bin"
HOSTS_DIR="$STATE/containerd/certs.d/$REGISTRY"
DOCKER=(docker --host "unix://$DOCKER_SOCK")
NPM_REGISTRY_PORT="${PYTHON_API_NPM_REGISTRY_PORT:-4873}"
NPM_REGISTRY="http://$NODE_IP:$NPM_REGISTRY_PORT/"

stop_daemon() {
  local name="$1" pid
  pid="$(cat "$PIDS/$name.pid" 2>/dev/null)" || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid"
}

stop() {
  node_running || return 0
  "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" -n kube-public delete configmap local-registry-hosting \
    --ignore-not-found >/dev/null 2>&1 || true
  for name in dockerd "forward-registry-host" "forward-registry-node" registry \
    "forward-npm-registry-node" "forward-npm-registry-host" npm-registry; do stop_daemon "$name"; done
  rm -rf "$HOSTS_DIR"
}

if [[ "$1" == stop ]]; then
  stop
  log "dev loop stopped"
  exit 0
fi

node_running || die "no running cluster under $STATE (run scripts/cluster/up.sh)"
[[ -f "$PIDS/dockerd.pid" ]] && kill -0 "$(cat "$PIDS/dockerd.pid")" 2>/dev/null && die "the dev loop already runs (dev-loop.sh stop first)"
[[ -z "$(ss -Hltn "sport = :$REGISTRY_PORT")" ]] || die "127.0.0.1:$REGISTRY_PORT is in use: set PYTHON_API_REGISTRY_PORT"
[[ -z "$(ss -Hltn "sport = :$NPM_REGISTRY_PORT")" ]] || die "127.0.0.1:$NPM_REGISTRY_PORT is in use: set PYTHON_API_NPM_REGISTRY_PORT"

# --- prerequisites ---------------------------------------------------------------------------
apt_install "$LOGS/apt-dev-loop.log" docker.io skopeo
bash "$ROOT/scripts/install-tools.sh" registry buildkit verdaccio >"$LOGS/install-tools-dev-loop.log" 2>&1 ||
  die "scripts/install-tools.sh registry buildkit verdaccio failed (see $LOGS/install-tools-dev-loop.log)"

trap 'rc=$?; if ((rc != 0)); then log "FAILED: stopping what was started"; stop; fi' EXIT

# --- the registry, in the node ----------------------------------------------------------------
mkdir -p "$STATE/registry/data"
cat >"$STATE/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
node_daemon registry env OTEL_TRACES_EXPORTER=none "$BIN/registry" serve "$STATE/registry/config.yml"
wait_for 20 "the registry in the node" node_run curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/"
forward_port registry "$REGISTRY_PORT" "127.0.0.1:$REGISTRY_PORT"
mkdir -p "$HOSTS_DIR"
cat >"$HOSTS_DIR/hosts.toml" <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF

# --- the npm registry the pods install from, on the host ----------------------------------------
# Verdaccio proxies (and caches) the registry this machine's npm uses, trusting the CA file that
# npm is told to trust (a TLS-inspecting proxy's); it listens on the host's loopback only, serves
# reads only (nobody may publish), and is forwarded into the node at NODE_IP:PORT.
uplink="$(cd "$ROOT" && npm config get registry)"
cafile="$(cd "$ROOT" && npm config get cafile)"
mkdir -p "$STATE/npm-registry/storage"
cat >"$STATE/npm-registry/config.yaml" <<EOF
storage: $STATE/npm-registry/storage
listen: 127.0.0.1:$NPM_REGISTRY_PORT
uplinks:
  upstream:
    url: $uplink
    timeout: 60s
packages:
  '**':
    access: \$all
    publish: nobody
    unpublish: nobody
    proxy: upstream
web:
  enable: false
middlewares:
  audit:
    enabled: false
log: { type: stdout, format: pretty, level: warn }
EOF
npm_env=()
if [[ -f "$cafile" ]]; then npm_env+=("NODE_EXTRA_CA_CERTS=$cafile"); fi
host_daemon npm-registry env "${npm_env[@]}" "$BIN/verdaccio" --config "$STATE/npm-registry/config.yaml"
wait_for 60 "the npm registry (Verdaccio) on 127.0.0.1:$NPM_REGISTRY_PORT" curl -fsS "http://127.0.0.1:$NPM_REGISTRY_PORT/-/ping"
forward_port_to_host npm-registry "$NPM_REGISTRY_PORT" "127.0.0.1:$NPM_REGISTRY_PORT"
wait_for 10 "the npm registry at $NPM_REGISTRY in the node" node_run curl -fsS "${NPM_REGISTRY}-/ping"

# --- the Docker Engine --------------------------------------------------------------------
mkdir -p "$DOCKER_ROOT/data" "$DOCKER_ROOT/exec"
cgroup_create "$CGROUP_NAME/docker"
echo '{}' >"$DOCKER_ROOT/daemon.json"
# /etc/docker on a tmpfs of its own: the engine writes its key there, not on the host.
host_daemon dockerd unshare --mount --propagation private -- sh -c '
  mount -t tmpfs -o mode=0755 tmpfs /etc/docker && exec "$@"' sh \
  dockerd --host "unix://$DOCKER_SOCK" --config-file "$DOCKER_ROOT/daemon.json" \
  --data-root "$DOCKER_ROOT/data" --exec-root "$DOCKER_ROOT/exec" --pidfile "$DOCKER_ROOT/dockerd.pid" \
  --containerd "$CONTAINERD_SOCK" --storage-driver overlay2 \
  --bridge none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --userland-proxy=false \
  --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$CGROUP_NAME/docker" --log-level warn
wait_for 60 "the Docker Engine" "${DOCKER[@]}" version

# --- what the engine cannot pull ------------------------------------------------------------
IMAGES_REPORT="$STATE/images-dev-loop.tsv" bash "$CLUSTER_SCRIPTS/images.sh" --bases-only >"$LOGS/images-bases.log" 2>&1 ||
  die "images.sh --bases-only failed (see $LOGS/images-bases.log)"
node_layout="$(cat "$STATE/node-base.layout")"
node_ref="$(sed -n 's/^FROM \(node:[^ ]*\) AS base$/\1/p' "$ROOT/Dockerfile")"
skopeo copy --quiet "oci:$node_layout" "docker-daemon:docker.io/library/$node_ref" \
  --dest-daemon-host "unix://$DOCKER_SOCK" >"$LOGS/skopeo.log" 2>&1 ||
  die "loading $node_ref into the engine failed (see $LOGS/skopeo.log)"
frontend="$(mktemp -d)"
cp "$BIN/dockerfile-frontend" "$frontend/"
# The labels BuildKit's own frontend image carries: it needs no network and takes named contexts.
cat >"$frontend/Dockerfile" <<'EOF'
FROM scratch
LABEL moby.buildkit.frontend.network.none="true" \
      moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
COPY dockerfile-frontend /bin/dockerfile-frontend
ENTRYPOINT ["/bin/dockerfile-frontend"]
EOF
DOCKER_BUILDKIT=0 "${DOCKER[@]}" build --quiet --tag docker/dockerfile:1 "$frontend" >"$LOGS/dockerfile-frontend.log" 2>&1 ||
  die "building the dockerfile frontend image failed (see $LOGS/dockerfile-frontend.log)"
rm -rf "$frontend"

# --- Tilt finds the registry here (KEP-1755) ---------------------------------------------------
"$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "$REGISTRY"
    help: "scripts/cluster/dev-loop.sh"
EOF

trap - EXIT
echo "DOCKER_HOST=unix://$DOCKER_SOCK"
echo "REGISTRY=$REGISTRY"
echo "NPM_REGISTRY=$NPM_REGISTRY"
