#!/usr/bin/env bash
# Opens one of an environment's secrets decrypted in $EDITOR; sops re-encrypts on save.
#
#   scripts/secrets/edit.sh <env> <postgres-secret|app-secret>
#
# The password appears twice (POSTGRES_PASSWORD and inside DATABASE_URL): change both,
# or let new-secrets.sh write a matching pair.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

env="${1:-}"
require_env "$env"
name="${2:-}"
[[ "$name" == postgres-secret || "$name" == app-secret ]] || die "second argument: postgres-secret or app-secret"
require_tools sops
use_key_of "$env"
cd "$ROOT"
path="$(secret_path "$env" "$name")"
[[ -f "$path" ]] || die "$path does not exist (create it: scripts/secrets/new-secrets.sh $env)"
exec sops --config "$SOPS_CONFIG" edit "$path"
