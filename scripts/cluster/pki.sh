# Certificates and kubeconfigs of the cluster, made with openssl into $PKI. Sourced by up.sh.
# One cluster CA signs every serving and client certificate; the aggregation layer has its own
# front-proxy CA (the apiserver proves itself to metrics-server with it). Keys are P-256: fast.
# shellcheck shell=bash

# new_key FILE
new_key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null && chmod 600 "$1"; }

# new_ca NAME CN
new_ca() {
  new_key "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 30 -sha256 -out "$PKI/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# new_cert NAME CA SUBJECT USAGE [SANS]   USAGE: client | server | both; SANS: "IP:1.2.3.4,DNS:x"
new_cert() {
  local name="$1" ca="$2" subject="$3" usage="$4" sans="${5:-}" eku
  case "$usage" in
    client) eku=clientAuth ;;
    server) eku=serverAuth ;;
    both) eku=serverAuth,clientAuth ;;
  esac
  new_key "$PKI/$name.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    if [[ -n "$sans" ]]; then echo "subjectAltName=$sans"; fi
  } >"$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" 2>/dev/null |
    openssl x509 -req -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -days 30 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.ext"
}

# kubeconfig NAME SERVER: $PKI/<name>.kubeconfig authenticating with $PKI/<name>.crt
kubeconfig() {
  local name="$1" server="$2"
  cat >"$PKI/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: python-api
    cluster:
      server: $server
      certificate-authority: $PKI/ca.crt
users:
  - name: $name
    user:
      client-certificate: $PKI/$name.crt
      client-key: $PKI/$name.key
contexts:
  - name: python-api
    context: {cluster: python-api, user: $name}
current-context: python-api
EOF
  chmod 600 "$PKI/$name.kubeconfig"
}

make_pki() {
  local inside="https://$NODE_IP:$APISERVER_NODE_PORT" svc
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  new_ca ca python-api-cluster-ca
  new_ca front-proxy-ca python-api-front-proxy-ca

  svc="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
  new_cert apiserver ca "/CN=kube-apiserver" server "$svc,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP"
  new_cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  new_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" client
  new_cert kubelet-serving ca "/CN=$NODE_NAME" server "DNS:$NODE_NAME,IP:$NODE_IP"
  new_cert metrics-server-serving ca "/CN=metrics-server" server \
    "DNS:metrics-server.kube-system.svc,DNS:metrics-server.kube-system.svc.$CLUSTER_DOMAIN,IP:$NODE_IP"

  # Service-account tokens: the apiserver signs with the private key, verifies with the public one.
  new_key "$PKI/sa.key"
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null

  # Client identities; each gets a kubeconfig that talks to the apiserver inside the node.
  new_cert admin ca "/O=system:masters/CN=python-api-admin" client
  new_cert kube-controller-manager ca "/CN=system:kube-controller-manager" client
  new_cert kube-scheduler ca "/CN=system:kube-scheduler" client
  new_cert kubelet ca "/O=system:nodes/CN=system:node:$NODE_NAME" client
  new_cert kube-proxy ca "/CN=system:kube-proxy" client
  new_cert metrics-server ca "/CN=python-api:metrics-server" client
  new_cert kube-router ca "/CN=python-api:kube-router" client
  new_cert local-path-provisioner ca "/CN=python-api:local-path-provisioner" client
  local name
  for name in admin kube-controller-manager kube-scheduler kubelet kube-proxy metrics-server kube-router local-path-provisioner; do
    kubeconfig "$name" "$inside"
  done
}
