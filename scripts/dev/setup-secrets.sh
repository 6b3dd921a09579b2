#!/usr/bin/env bash
# One-time secret set-up for a developer who has no copy of the team's dev age key (a new
# fork, a laptop of one's own): creates this machine's dev key, makes .sops.yaml encrypt dev
# to it and writes fresh, random dev secrets. Only ever for dev: staging and prod keys are
# handed out, never re-created (docs/secrets.md).
#
#   scripts/dev/setup-secrets.sh [dev]
#
# With a key that already decrypts the dev secrets it changes nothing. The new files
# (.sops.yaml, gitops/overlays/dev/secrets/*.sops.yaml) are encrypted and safe to commit.
# shellcheck source=scripts/secrets/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../secrets/lib.sh"

env="${1:-dev}"
[[ "$env" == "dev" ]] || die "only dev secrets are created here; $env keys are handed out (docs/secrets.md)"
require_tools sops age-keygen yq

key="$(key_file "$env")"
decrypts_all() {
  local name
  for name in "${SECRET_NAMES[@]}"; do
    [[ -f "$ROOT/$(secret_path "$env" "$name")" ]] || return 1
    SOPS_AGE_KEY_FILE="$key" sops decrypt "$ROOT/$(secret_path "$env" "$name")" >/dev/null 2>&1 || return 1
  done
}

if [[ -f "$key" ]] && decrypts_all; then
  printf 'the %s key at %s already decrypts the %s secrets; nothing to do\n' "$env" "$key" "$env" >&2
  exit 0
fi

scripts="$ROOT/scripts/secrets"
recipient="$("$scripts/age-key.sh" "$env")"
# Points .sops.yaml at the new key; re-encrypting the old files fails without the old key,
# which is expected here: fresh secrets replace them.
"$scripts/set-recipients.sh" "$env" "$recipient" 2>/dev/null || true
"$scripts/new-secrets.sh" "$env" --force
decrypts_all || die "the new $env secrets do not decrypt with $key"
printf 'dev secrets ready: %s decrypts gitops/overlays/%s/secrets\n' "$key" "$env" >&2
