#!/usr/bin/env bash
# Re-vendors Argo CD's upstream install manifest at the version pinned in tools/versions.env.
# The manifest ships inside the argo-cd Go module, so the Go module proxy is the only source
# needed: no release download, no URL in git. Run it after bumping ARGOCD_VERSION, review the
# diff, commit both files together.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=/dev/null
source "$repo_root/tools/versions.env"
: "${ARGOCD_VERSION:?ARGOCD_VERSION is not set in tools/versions.env}"

module="github.com/argoproj/argo-cd/v3@${ARGOCD_VERSION}"
# GOFLAGS=-mod=mod keeps `go mod download` usable outside any module.
module_dir="$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "$module" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "$module_dir" || ! -f "$module_dir/manifests/install.yaml" ]]; then
  echo "refresh.sh: could not find manifests/install.yaml in $module" >&2
  exit 1
fi

install -m 0644 "$module_dir/manifests/install.yaml" "$repo_root/argocd/upstream/install.yaml"
echo "argocd/upstream/install.yaml <- $module (manifests/install.yaml)"
