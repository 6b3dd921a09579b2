#!/usr/bin/env bash
# Makes .sops.yaml encrypt an environment's secrets to the given age recipients (default:
# the public key of this machine's key for that environment), then re-encrypts the
# environment's data keys to exactly those recipients (`sops updatekeys`).
#
#   scripts/secrets/set-recipients.sh <env> [age1... ...]
#
# Re-encrypting needs a key that can decrypt the files today. A fork that has no such
# key sets its recipients and creates fresh secrets instead: new-secrets.sh <env> --force.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

env="${1:-}"
require_env "$env"
shift
require_tools sops age-keygen
require_yq

recipients=("$@")
if [[ ${#recipients[@]} -eq 0 ]]; then
  recipients=("$("$(dirname "${BASH_SOURCE[0]}")/age-key.sh" "$env")")
fi
for r in "${recipients[@]}"; do
  [[ "$r" =~ ^age1[0-9a-z]{58}$ ]] || die "'$r' is not an age public key (age1...)"
done
joined="$(IFS=,; printf '%s' "${recipients[*]}")"

[[ -f "$SOPS_CONFIG" ]] || die "$SOPS_CONFIG not found"
matches="$(ENV_DIR="overlays/$env/" yq '[.creation_rules[] | select(.path_regex | contains(strenv(ENV_DIR)))] | length' "$SOPS_CONFIG")"
[[ "$matches" == 1 ]] || die "expected exactly one creation rule for $env in .sops.yaml, found $matches"
ENV_DIR="overlays/$env/" AGE="$joined" \
  yq -i '(.creation_rules[] | select(.path_regex | contains(strenv(ENV_DIR)))).age = strenv(AGE)' "$SOPS_CONFIG"
printf '.sops.yaml: %s now encrypts to %s\n' "$env" "$joined" >&2

cd "$ROOT"
for name in "${SECRET_NAMES[@]}"; do
  path="$(secret_path "$env" "$name")"
  [[ -f "$path" ]] || continue
  use_key_of "$env"
  sops --config "$SOPS_CONFIG" updatekeys --yes "$path" ||
    die "could not re-encrypt $path (no key that decrypts it?); create new secrets: new-secrets.sh $env --force"
done
