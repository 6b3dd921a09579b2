#!/usr/bin/env bash
# Gives Argo CD the private age key(s) it decrypts with: the Secret "sops-age" (key
# keys.txt) in the argocd namespace, which the repo-server mounts for KSOPS.
#
#   scripts/secrets/argocd-key.sh <env> [<env>...]          # applies with kubectl
#   scripts/secrets/argocd-key.sh --print <env> [<env>...]  # prints the manifest instead
#
# One Argo CD per cluster gets the keys of the environments it deploys, nothing more.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

print=false
if [[ "${1:-}" == "--print" ]]; then print=true; shift; fi
[[ $# -gt 0 ]] || die "name at least one environment"
$print || require_tools kubectl

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(umask 077 && : >"$work/keys.txt")
for env in "$@"; do
  require_env "$env"
  file="$(key_file "$env")"
  [[ -f "$file" ]] || die "no age key for '$env' at $file"
  cat "$file" >>"$work/keys.txt"
done

manifest() {
  cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: sops-age
  namespace: argocd
  labels:
    app.kubernetes.io/part-of: argocd
type: Opaque
data:
  keys.txt: $(base64 -w0 <"$work/keys.txt")
YAML
}
if $print; then
  manifest
else
  manifest | kubectl apply --server-side --field-manager=python-api-secrets -f -
fi
