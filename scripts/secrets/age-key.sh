#!/usr/bin/env bash
# Creates the age key of an environment if it has none, and prints its public key
# (the recipient to put in .sops.yaml). The private key never enters the repository.
#
#   scripts/secrets/age-key.sh <dev|staging|prod>
#
# Key location: $SOPS_AGE_KEY_DIR (default ~/.config/sops/age)/python-api-<env>.agekey
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

env="${1:-}"
require_env "$env"
require_tools age-keygen

file="$(key_file "$env")"
if [[ ! -f "$file" ]]; then
  mkdir -p "$KEY_DIR"
  chmod 700 "$KEY_DIR"
  (umask 077 && age-keygen -o "$file" 2>/dev/null)
  printf 'created %s\n' "$file" >&2
fi
age-keygen -y "$file"
