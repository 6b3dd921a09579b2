#!/usr/bin/env bash
# Re-encrypts an environment's secrets: recipients as .sops.yaml lists them now
# (`sops updatekeys`, e.g. after removing someone's key) and a fresh data key
# (`sops rotate`). The secret values themselves do not change.
#
#   scripts/secrets/rotate.sh <env>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

env="${1:-}"
require_env "$env"
require_tools sops
use_key_of "$env"
cd "$ROOT"
for name in "${SECRET_NAMES[@]}"; do
  path="$(secret_path "$env" "$name")"
  [[ -f "$path" ]] || die "$path does not exist"
  sops --config "$SOPS_CONFIG" updatekeys --yes "$path"
  sops --config "$SOPS_CONFIG" rotate --in-place "$path"
  printf 'rotated %s\n' "$path" >&2
done
