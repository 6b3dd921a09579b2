#!/usr/bin/env bash
# Prints an overlay's manifests with its SOPS secrets decrypted on this machine: what Argo
# CD renders through KSOPS, without needing the ksops plugin locally. The Tiltfile runs it.
#
#   scripts/dev/render-overlay.sh [env]      # env defaults to dev
#
# Each KSOPS generator of the overlay is replaced by the files it lists, decrypted with
# `sops decrypt` and the environment's age key (scripts/secrets/lib.sh says where it lives).
# KSOPS emits those decrypted manifests unchanged, so the output is the same objects.
# Plain text exists only in a private temp dir that is removed on exit; stdout carries
# the manifests (Tilt applies them, nothing is written into the repository).
# shellcheck source=scripts/secrets/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../secrets/lib.sh"

env="${1:-dev}"
require_env "$env"
require_tools kustomize sops yq

key="$(key_file "$env")"
if [[ ! -f "$key" ]]; then
  die "no age key for '$env' at $key, so its secrets cannot be decrypted.
Put the team's $env key there, or create your own key and fresh $env secrets with:
  scripts/dev/setup-secrets.sh $env"
fi
use_key_of "$env"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
cp -R "$ROOT/gitops" "$work/gitops"
overlay="$work/gitops/overlays/$env"
kustomization="$overlay/kustomization.yaml"
[[ -f "$kustomization" ]] || die "no overlay at gitops/overlays/$env"

while IFS= read -r generator; do
  [[ -n "$generator" ]] || continue
  [[ "$(yq '.kind' "$overlay/$generator")" == "ksops" ]] || continue
  while IFS= read -r file; do
    [[ -n "$file" ]] || continue
    plain="decrypted-$(basename "${file%.yaml}").yaml"
    sops decrypt "$overlay/$file" >"$overlay/$plain" ||
      die "could not decrypt gitops/overlays/$env/$file with $key (is it the key .sops.yaml encrypts $env to?)"
    F="$plain" yq -i '.resources += [strenv(F)]' "$kustomization"
  done < <(yq '.files[]' "$overlay/$generator")
  G="$generator" yq -i 'del(.generators[] | select(. == strenv(G)))' "$kustomization"
done < <(yq '.generators // [] | .[]' "$kustomization")

kustomize build "$overlay"
