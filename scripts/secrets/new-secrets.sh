#!/usr/bin/env bash
# Creates an environment's postgres-secret and app-secret from the templates, with a
# strong random password, and writes them SOPS-encrypted into the overlay. The password
# in DATABASE_URL is always the one in POSTGRES_PASSWORD (URL-encoded).
#
#   scripts/secrets/new-secrets.sh <env> [--force]
#
# Optional environment: POSTGRES_USER (default python_api), POSTGRES_PASSWORD (default:
# 32 random characters) - set it to keep the password of an existing database.
# Existing files are kept unless --force: PostgreSQL only reads POSTGRES_PASSWORD when it
# creates its data directory, so a new password for a running database also needs
# ALTER ROLE (docs/secrets.md, "Rotating the database password").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

env="${1:-}"
require_env "$env"
force="${2:-}"
[[ -z "$force" || "$force" == "--force" ]] || die "unknown option '$force'"
require_tools sops node
require_yq

cd "$ROOT"
for name in "${SECRET_NAMES[@]}"; do
  if [[ -f "$(secret_path "$env" "$name")" && "$force" != "--force" ]]; then
    die "$(secret_path "$env" "$name") exists; pass --force to replace $env's secrets"
  fi
done

user="${POSTGRES_USER:-python_api}"
[[ "$user" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "POSTGRES_USER must be a plain lower-case identifier"
# 24 random bytes -> 32 characters of [A-Za-z0-9_-]: 192 bits, no quoting trouble anywhere.
password="${POSTGRES_PASSWORD:-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')}"
[[ ${#password} -ge 16 ]] || die "POSTGRES_PASSWORD must have at least 16 characters"
encoded_password="$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' -- "$password")"
database_url="postgresql://${user}:${encoded_password}@postgres-service:5432/items"

# Plain text exists only in this private temp dir, never inside the repository.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
templates="$(dirname "${BASH_SOURCE[0]}")/templates"

U="$user" P="$password" yq '.stringData.POSTGRES_USER = strenv(U) | .stringData.POSTGRES_PASSWORD = strenv(P) | ... comments = ""' \
  "$templates/postgres-secret.yaml" >"$work/postgres-secret.yaml"
URL="$database_url" yq '.stringData.DATABASE_URL = strenv(URL) | ... comments = ""' \
  "$templates/app-secret.yaml" >"$work/app-secret.yaml"

mkdir -p "$(secrets_dir "$env")"
for name in "${SECRET_NAMES[@]}"; do
  target="$(secret_path "$env" "$name")"
  # --filename-override: the creation rule (recipients, encrypted_regex) of the target path applies.
  sops --config "$SOPS_CONFIG" encrypt --filename-override "$target" \
    --input-type yaml --output-type yaml "$work/$name.yaml" >"$work/$name.sops.yaml"
  mv "$work/$name.sops.yaml" "$target"
  printf 'wrote %s\n' "$target" >&2
done
