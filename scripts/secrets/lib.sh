# Shared by the scripts in scripts/secrets (sourced, not run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The pinned sops, age and yq (scripts/install-tools.sh) win over anything else on PATH.
export PATH="$ROOT/.tools/bin:$PATH"

ENVIRONMENTS=(dev staging prod)
SECRET_NAMES=(postgres-secret app-secret)
# Private keys live outside the repository, one per environment.
KEY_DIR="${SOPS_AGE_KEY_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/sops/age}"
SOPS_CONFIG="$ROOT/.sops.yaml"

die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "'$tool' not found; run: bash scripts/install-tools.sh $tool"
  done
}

# Another program called yq (a jq wrapper) is common on PATH; the scripts need mikefarah's yq.
require_yq() {
  require_tools yq
  yq --version 2>&1 | grep -q mikefarah ||
    die "'yq' on PATH is not mikefarah/yq; run: bash scripts/install-tools.sh yq"
}

require_env() {
  local env="${1:-}" known
  for known in "${ENVIRONMENTS[@]}"; do [[ "$env" == "$known" ]] && return 0; done
  die "unknown environment '${env}' (expected one of: ${ENVIRONMENTS[*]})"
}

key_file() { printf '%s/python-api-%s.agekey' "$KEY_DIR" "$1"; }
secrets_dir() { printf '%s/gitops/overlays/%s/secrets' "$ROOT" "$1"; }
# Path relative to the repository root: what .sops.yaml's path_regex rules match.
secret_path() { printf 'gitops/overlays/%s/secrets/%s.sops.yaml' "$1" "$2"; }

# sops finds the environment's private key through this variable.
use_key_of() {
  local file
  file="$(key_file "$1")"
  [[ -f "$file" ]] || die "no age key for '$1' at $file (create one: scripts/secrets/age-key.sh $1)"
  export SOPS_AGE_KEY_FILE="$file"
}
