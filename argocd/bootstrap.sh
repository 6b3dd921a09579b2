#!/usr/bin/env bash
# Bootstraps Argo CD on a fresh cluster (Minikube by default) and hands the cluster to git:
#
#   argocd/bootstrap.sh [--env dev|staging|prod] [--no-wait] [--timeout SECONDS]
#
#  0. on Minikube: enables the ingress and metrics-server add-ons the dev overlay needs,
#  1. checks that argocd/repository/repository.yaml names this repository's real remote,
#  2. creates the sops-age Secret from your local age key (scripts/secrets/argocd-key.sh),
#  3. creates the Grafana admin Secret with a random password (once; never overwritten),
#  4. installs Argo CD from argocd/ (pinned upstream manifest + KSOPS + projects),
#  5. applies the root Application of gitops/apps/<env>; Argo CD syncs everything else in waves,
#  6. waits until the root app and its children are Synced and Healthy (unless --no-wait),
#  7. prints how to reach the Argo CD UI and Grafana, and what healthy looks like.
#
# Safe to re-run: every step converges. --no-wait skips every step that needs running pods
# (the tests run the script against a bare kube-apiserver). kubectl talks to the current
# context; set KUBECONFIG or `kubectl config use-context` first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.tools/bin:$PATH"

env_name=dev
wait_for_pods=true
timeout=900
while [[ $# -gt 0 ]]; do
  case "$1" in
    --env) env_name="${2:?--env needs a value}"; shift 2 ;;
    --env=*) env_name="${1#--env=}"; shift ;;
    --no-wait) wait_for_pods=false; shift ;;
    --timeout) timeout="${2:?--timeout needs seconds}"; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bootstrap.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nbootstrap.sh: %s\n' "$*" >&2; exit 1; }

case "$env_name" in dev | staging | prod) ;; *) die "unknown environment '$env_name' (expected dev, staging or prod)" ;; esac
command -v kubectl >/dev/null || die "kubectl not found (Minikube users: 'minikube kubectl --' or install kubectl)"
command -v git >/dev/null || die "git not found"
if command -v kustomize >/dev/null; then
  render() { kustomize build "$1"; }
else
  # kubectl's built-in kustomize understands everything argocd/ and gitops/apps/ use.
  render() { kubectl kustomize "$1"; }
fi

# --- 1. the repository Argo CD will pull from -----------------------------------------------
repo_file="$ROOT/argocd/repository/repository.yaml"
configured_url="$(sed -n 's/^[[:space:]]*url:[[:space:]]*//p' "$repo_file" | head -n1)"
configured_revision="$(sed -n 's/^[[:space:]]*revision:[[:space:]]*//p' "$repo_file" | head -n1)"
detected_url="$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)"
# Argo CD clones over HTTPS without credentials for a public repository: show the HTTPS form
# of an SSH remote (git@host:org/repo.git -> https://host/org/repo.git).
if [[ "$detected_url" =~ ^git@([^:]+):(.+)$ ]]; then
  detected_https="https://${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
else
  detected_https="$detected_url"
fi
if [[ -z "$configured_url" || "$configured_url" == *CHANGE-ME* || "$configured_url" == *.invalid/* ]]; then
  {
    echo
    echo "bootstrap.sh: argocd/repository/repository.yaml still names the placeholder repository:"
    echo "    url: ${configured_url:-<empty>}"
    echo "Argo CD deploys from git, so it must know where your fork lives. Set that line to your"
    if [[ -n "$detected_https" ]]; then
      echo "fork's URL - this clone's 'origin' is:"
      echo "    url: $detected_https"
    else
      echo "fork's URL (this clone has no 'origin' remote to suggest)."
    fi
    echo "then commit and push, and run this script again. (A private repository also needs"
    echo "credentials in Argo CD: see docs/argocd.md, 'Private repositories'.)"
  } >&2
  exit 1
fi
if [[ -n "$detected_url" && "$configured_url" != "$detected_url" && "$configured_url" != "$detected_https" ]]; then
  echo "bootstrap.sh: note: repository.yaml names $configured_url, but origin is $detected_url." >&2
  echo "              Argo CD will deploy from $configured_url." >&2
fi
if branch="$(git -C "$ROOT" rev-parse --abbrev-ref HEAD 2>/dev/null)" && [[ "$branch" == "$configured_revision" ]] &&
  git -C "$ROOT" rev-parse --verify -q "@{upstream}" >/dev/null && [[ -n "$(git -C "$ROOT" log --oneline '@{upstream}..HEAD')" ]]; then
  echo "bootstrap.sh: note: $branch has commits that are not pushed; Argo CD only sees what is pushed." >&2
fi

kubectl version --request-timeout=10s >/dev/null 2>&1 ||
  die "cannot reach a cluster with kubectl (current context: $(kubectl config current-context 2>/dev/null || echo none)). Start one: minikube start --driver=docker --container-runtime=docker --cni=calico --cpus=4 --memory=8g --disk-size=30g"
echo "Cluster: $(kubectl config current-context 2>/dev/null || echo '(from KUBECONFIG)')  environment: $env_name  repository: $configured_url@$configured_revision"

# The dev overlay's Ingress (class nginx) is only Healthy once a controller has admitted it, and
# the HPA only once metrics-server answers: Minikube ships both as add-ons.
if [[ "$(kubectl config current-context 2>/dev/null)" == minikube* ]] && command -v minikube >/dev/null; then
  say "Enabling Minikube's ingress and metrics-server add-ons"
  minikube addons enable ingress
  minikube addons enable metrics-server
else
  echo "Not Minikube (or no minikube CLI): the cluster needs an nginx IngressClass and metrics-server."
fi

# --- 2. the age key Argo CD decrypts the overlay's secrets with -------------------------------
say "Creating the sops-age Secret from your local '$env_name' age key"
kubectl apply --server-side --field-manager=argocd-bootstrap -f "$ROOT/argocd/namespace.yaml" >/dev/null
bash "$ROOT/scripts/secrets/argocd-key.sh" "$env_name"

# --- 3. Grafana's admin password: random, created once, never in git --------------------------
say "Creating the Grafana admin Secret (kept if it exists)"
kubectl apply --server-side --field-manager=argocd-bootstrap -f "$ROOT/gitops/apps/platform/monitoring/namespace.yaml" >/dev/null
if kubectl -n monitoring get secret grafana-admin >/dev/null 2>&1; then
  echo "secret/grafana-admin exists, kept"
else
  password="$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 || true)"
  kubectl -n monitoring create secret generic grafana-admin \
    --from-literal=admin-user=admin --from-literal=admin-password="$password"
fi

# --- 4. Argo CD ---------------------------------------------------------------------------------
say "Installing Argo CD (argocd/: pinned upstream manifest, KSOPS, projects)"
manifest="$(mktemp)"
trap 'rm -f "$manifest"' EXIT
render "$ROOT/argocd" >"$manifest"
# Server-side: the Application CRD is too large for client-side apply's annotation. The first
# pass creates the CRDs; the AppProjects in the same file can only be created once the API
# serves their kind, hence the wait and the second, strict pass.
kubectl apply --server-side --force-conflicts --field-manager=argocd-bootstrap -f "$manifest" >/dev/null 2>&1 || true
kubectl wait --for=condition=Established --timeout=60s \
  crd/applications.argoproj.io crd/applicationsets.argoproj.io crd/appprojects.argoproj.io >/dev/null
kubectl apply --server-side --force-conflicts --field-manager=argocd-bootstrap -f "$manifest" | sed 's/^/  /' | tail -n 5
echo "  ($(grep -c '^kind:' "$manifest") objects applied)"

if $wait_for_pods; then
  say "Waiting for Argo CD to start"
  for workload in deploy/argocd-repo-server deploy/argocd-server deploy/argocd-redis \
    deploy/argocd-applicationset-controller statefulset/argocd-application-controller; do
    kubectl -n argocd rollout status "$workload" --timeout="${timeout}s"
  done
fi

# --- 5. the root Application ------------------------------------------------------------------------
say "Applying the root Application (gitops/apps/$env_name)"
# Only the root: Argo CD creates the other Applications itself, in their sync waves.
render "$ROOT/gitops/apps/$env_name" >"$manifest"
kubectl apply --server-side --force-conflicts --field-manager=argocd-bootstrap \
  --selector gitops.python-api/root=true -f "$manifest"

# --- 6. wait for convergence ----------------------------------------------------------------------
if $wait_for_pods; then
  say "Waiting for every Application to be Synced and Healthy (first sync pulls the images: minutes)"
  deadline=$((SECONDS + timeout))
  while :; do
    states="$(kubectl -n argocd get applications.argoproj.io \
      -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.sync.status}{" "}{.status.health.status}{"\n"}{end}')"
    total="$(grep -c . <<<"$states" || true)"
    ready="$(grep -c ' Synced Healthy$' <<<"$states" || true)"
    printf '  %s/%s Applications Synced+Healthy\r' "$ready" "$total"
    if [[ "$total" -gt 1 && "$ready" == "$total" ]]; then echo; break; fi
    if ((SECONDS > deadline)); then
      echo
      kubectl -n argocd get applications.argoproj.io
      die "not every Application is Synced and Healthy after ${timeout}s. Look at the ones above in the UI (step below) or: kubectl -n argocd describe application <name>"
    fi
    sleep 10
  done
fi

# --- 7. how to look at it ---------------------------------------------------------------------------
argocd_password="$(kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' 2>/dev/null | base64 -d 2>/dev/null || true)"
grafana_password="$(kubectl -n monitoring get secret grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d)"
cat <<EOF

==> Done. Argo CD now deploys $configured_url ($configured_revision) to this cluster.

Argo CD UI
  kubectl -n argocd port-forward svc/argocd-server 8080:443
  open https://localhost:8080   (self-signed certificate)   user: admin
  password: ${argocd_password:-"(created when argocd-server first starts) kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d"}

Grafana (dashboard "python-api")
  kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80
  open http://localhost:3000   user: admin   password: $grafana_password

Healthy looks like
  kubectl -n argocd get applications
  -> root, argocd, cert-manager, kube-prometheus-stack, loki, alloy, python-api-monitoring and
     python-api-$env_name all "Synced" and "Healthy";
  kubectl -n python-api-ns get pods
  -> postgres-0 2/2 Running, python-api-* 1/1 Running, the migration Job Completed.
EOF
if [[ "$env_name" == dev ]]; then
  cat <<'EOF'
  The API: add "$(minikube ip) api.local" to /etc/hosts (needs `minikube addons enable ingress`),
  then open https://api.local/docs
EOF
fi
