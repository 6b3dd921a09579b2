#!/usr/bin/env bash
# Brings up a REAL single-node Kubernetes on this machine (Linux, root) and leaves it running.
#
#   sudo scripts/cluster/up.sh        # prints the KUBECONFIG path on stdout (progress on stderr)
#   sudo scripts/cluster/down.sh      # tears it all down (up.sh does too, first, and on failure)
#
# Everything lives under $PYTHON_API_CLUSTER_DIR (default /var/tmp/python-api-cluster, called
# $STATE below) and in the cgroup /<basename of $STATE>; the node runs in a network and mount
# namespace of its own, so the host's sysctls, firewall, routes and mounts never change.
#
# Interface: $STATE/cluster.env (shell KEY=VALUE, `source` it or parse it):
#   KUBECONFIG          admin kubeconfig (system:masters) that reaches the apiserver on host loopback
#   APISERVER_URL       https://127.0.0.1:<port>, the host's end of the apiserver forwarder
#   CONTAINERD_ADDRESS  containerd's socket (a path on the host's filesystem, usable from the host:
#                       `ctr --address $CONTAINERD_ADDRESS -n $CONTAINERD_NAMESPACE images ls`)
#   CONTAINERD_NAMESPACE  k8s.io: images there are what pods run (imagePullPolicy Never/IfNotPresent)
#   NODE_PID            a process inside the node's namespaces: `nsenter -t $NODE_PID -n -m -- CMD`
#   NODE_EXEC           scripts/cluster/node-exec.sh: runs CMD inside the node's namespaces AND the
#                       cluster's cgroup (use it for daemons such as buildkitd: down.sh stops them)
#   NODE_EXPOSE         scripts/cluster/expose.sh NODE_PORT [HOST_PORT]: forwards 127.0.0.1:HOST_PORT
#                       on the host to NODE_IP:NODE_PORT in the node, prints 127.0.0.1:HOST_PORT
#   NODE_NAME NODE_IP POD_CIDR SERVICE_CIDR CLUSTER_DNS CLUSTER_DOMAIN
#   STORAGE_CLASS       the default StorageClass (local-path-provisioner)
#   BUSYBOX_IMAGE PAUSE_IMAGE  local images in containerd (sh, wget, nc, nslookup; the pod sandbox)
#   CLUSTER_DIR CLUSTER_CGROUP  where the state lives / the cgroup holding every cluster process
#
# Layout inside the node: addresses only in 198.18.0.0/15 (node 198.18.0.1 on the node's lo,
# pods 198.18.1.0/24 via the CNI ptp plugin, Services 198.19.0.0/16, DNS 198.19.0.10); the node
# sees its own /run, /var/lib and /var/log ($STATE/node/...). etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy (iptables),
# metrics-server, kube-router (NetworkPolicy firewall only) and local-path-provisioner run there as
# plain processes; CoreDNS runs as a pod (as on Minikube and kind). docs/real-cluster.md explains.
set -euo pipefail

# shellcheck source=scripts/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tools/versions.env
source "$ROOT/tools/versions.env"
# shellcheck source=scripts/cluster/pki.sh
source "$CLUSTER_SCRIPTS/pki.sh"
# shellcheck source=scripts/cluster/node-images.sh
source "$CLUSTER_SCRIPTS/node-images.sh"

require_root
case "$STATE/" in
  /run/* | /var/lib/* | /var/log/* | /tmp/*) die "PYTHON_API_CLUSTER_DIR=$STATE: the node mounts its own /run, /var/lib, /var/log; put the state elsewhere" ;;
esac

# The node's kubelet evicts pods and deletes images (the pause image among them: every new pod then
# hangs in ContainerCreating) once its disk is nearly full; seen here with 2.8 GiB left. The images,
# the registry and Docker's build cache of a run take about 8 GiB: refuse to start without room.
MIN_FREE_GIB="${PYTHON_API_CLUSTER_MIN_FREE_GIB:-12}"
free_gib="$(($(df -Pk "$(dirname "$STATE")" | awk 'NR == 2 { print $4 }') / 1024 / 1024))"
((free_gib >= MIN_FREE_GIB)) ||
  die "only ${free_gib} GiB free on the disk of $STATE; the cluster needs ${MIN_FREE_GIB} GiB (PYTHON_API_CLUSTER_MIN_FREE_GIB)"

BIN="$ROOT/.tools/bin"
APT_PACKAGES=(containerd runc containernetworking-plugins iptables ipset socat openssl busybox-static conntrack gcc libc6-dev binutils
  iproute2 gettext-base)
TOOLS=(kubernetes kube-control-plane kube-node etcd coredns metrics-server kube-router local-path-provisioner)
STARTED=$SECONDS
step() { log "[$((SECONDS - STARTED))s] $*"; }

on_exit() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    log "FAILED (exit $rc); tearing down. Logs of the last run: $LOGS"
    for f in "$LOGS"/*.log; do
      [[ -s "$f" ]] || continue
      printf '\n--- %s (last lines) ---\n' "${f##*/}" >&2
      tail -n 8 "$f" >&2
    done
    "$CLUSTER_SCRIPTS/down.sh" --keep-logs >&2 || true
  fi
}

install_prerequisites() {
  apt_install "$LOGS/apt.log" "${APT_PACKAGES[@]}"
  step "pinned tools: ${TOOLS[*]}"
  bash "$ROOT/scripts/install-tools.sh" "${TOOLS[@]}" >"$LOGS/install-tools.log" 2>&1 ||
    die "scripts/install-tools.sh ${TOOLS[*]} failed (see $LOGS/install-tools.log)"
}

# What down.sh compares against: the host's firewall, links, routes, mounts and the sysctls
# that kubelet and kube-proxy would like to change.
snapshot_host() { "$CLUSTER_SCRIPTS/host-state.sh" >"$STATE/host-before.txt"; }

# unshare has exec'd into sleep once the holder's namespaces differ from ours.
node_namespaces_ready() {
  [[ "$(readlink "/proc/$(node_pid)/ns/net")" != "$(readlink /proc/self/ns/net)" &&
    "$(readlink "/proc/$(node_pid)/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]]
}

# The holder: a process whose only job is to keep the node's namespaces alive.
start_node() {
  cgroup_create "$CGROUP_NAME"
  cgroup_create "$CGROUP_NAME/system"
  (
    cgroup_enter "$BASHPID" "$CGROUP_NAME/system"
    exec setsid unshare --net --mount --propagation private -- sleep infinity
  ) >"$LOGS/node.log" 2>&1 </dev/null &
  echo $! >"$PIDS/node.pid"
  wait_for 10 "the node's namespaces" node_namespaces_ready
  readlink "/proc/$(node_pid)/ns/net" >"$STATE/node.netns"

  mkdir -p "$NODE_ROOT/var-lib" "$NODE_ROOT/var-log" "$NODE_ROOT/sysctl"
  # Kernel settings kubelet insists on (it writes them when they differ). Inside the node's
  # mount namespace small files sit over the /proc/sys entries, so the writes land there.
  local -A sysctls=(
    [vm/overcommit_memory]=1 [vm/panic_on_oom]=0 [kernel/panic]=10 [kernel/panic_on_oops]=1
    [kernel/keys/root_maxkeys]=1000000 [kernel/keys/root_maxbytes]=25000000
  )
  local key script
  script="set -eu
mount --make-rshared /
mount -t tmpfs -o mode=755,size=64m python-api-node-run /run
mkdir -p /run/lock
mount --bind '$NODE_ROOT/var-lib' /var/lib
mount --bind '$NODE_ROOT/var-log' /var/log
"
  for key in "${!sysctls[@]}"; do
    echo "${sysctls[$key]}" >"$NODE_ROOT/sysctl/${key//\//.}"
    script+="mount --bind '$NODE_ROOT/sysctl/${key//\//.}' /proc/sys/$key
"
  done
  # Nothing in the node may load kernel modules on the host's behalf.
  for key in /sbin/modprobe /usr/sbin/modprobe; do
    if [[ -e "$key" ]]; then script+="mount --bind /bin/true '$key'
"; fi
  done
  # No dummy interface module in this kernel: the node IP sits on the node's own lo.
  # The Service range needs a route in the node for connections the node itself opens to a
  # ClusterIP (kube-proxy's OUTPUT rules rewrite them to a pod, which is then routed by its veth);
  # a node with a default route has one implicitly. From the node IP, which the pods' routes reach.
  script+="ip link set lo up
ip addr add $NODE_IP/32 dev lo
ip route add $SERVICE_CIDR dev lo src $NODE_IP
sysctl -qw net.ipv4.ip_forward=1
"
  node_run sh -c "$script"
}

start_etcd() {
  mkdir -p "$STATE/etcd"
  chmod 700 "$STATE/etcd"
  # --unsafe-no-fsync: a throwaway test cluster on a busy disk; losing it on a crash is fine.
  node_daemon etcd "$BIN/etcd" --name "$NODE_NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381 \
    --unsafe-no-fsync --log-level warn
}

start_apiserver() {
  node_daemon kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --secure-port="$APISERVER_NODE_PORT" --advertise-address="$NODE_IP" \
    --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --enable-aggregator-routing=true --profiling=false
}

start_control_plane() {
  node_daemon kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$PKI/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$PKI/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$PKI/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" --allocate-node-cidrs=false \
    --flex-volume-plugin-dir=/var/lib/kubelet/volume-plugins --profiling=false
  node_daemon kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$PKI/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$PKI/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$PKI/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
}

# Proxies point at a closed loopback port: an image pull or anything else that tries to reach
# the outside fails at once. The cluster's own addresses bypass them.
PROXY_ENV=(HTTP_PROXY="$CLOSED_PROXY" HTTPS_PROXY="$CLOSED_PROXY" http_proxy="$CLOSED_PROXY" https_proxy="$CLOSED_PROXY"
  NO_PROXY="127.0.0.1,localhost,$CLUSTER_RANGE,.svc,.$CLUSTER_DOMAIN" no_proxy="127.0.0.1,localhost,$CLUSTER_RANGE,.svc,.$CLUSTER_DOMAIN")

start_containerd() {
  local dir="$STATE/containerd"
  mkdir -p "$dir/root" "$dir/state" "$STATE/cni/net.d" "$STATE/cni/ipam"
  chmod 700 "$dir/root" "$dir/state"
  cat >"$STATE/cni/net.d/10-python-api.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "python-api",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "${POD_CIDR%.0/24}.1" }]],
        "routes": [{ "dst": "$CLUSTER_RANGE" }]
      }
    },
    { "type": "loopback" }
  ]
}
EOF
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
# Snapshotters this machine has no use for; overlayfs is the one the CRI uses.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "$CONTAINERD_SOCK"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  # This machine withholds CAP_SYS_RESOURCE, so nothing may lower an oom_score_adj (the pause
  # container's -998 fails with EACCES inside runc): clamp to containerd's own value instead.
  restrict_oom_score_adj = true
  # Per-registry settings (hosts.toml), read at each pull: scripts/cluster/dev-loop.sh adds its
  # loopback registry there.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$dir/runc"
        SystemdCgroup = false
EOF
  node_daemon containerd env "${PROXY_ENV[@]}" containerd --config "$dir/config.toml"
}

import_node_images() {
  mkdir -p "$STATE/images"
  build_pause_image "$STATE/images/pause.tar"
  build_busybox_image "$STATE/images/busybox.tar"
  build_coredns_image "$STATE/images/coredns.tar"
  local image
  for image in pause busybox coredns; do
    ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$STATE/images/$image.tar" >>"$LOGS/images.log" 2>&1 ||
      die "ctr images import $image failed (see $LOGS/images.log)"
  done
}

start_kubelet() {
  mkdir -p "$STATE/kubelet"
  cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# cgroup v1 (hybrid) host: allowed explicitly; every pod cgroup lives under our own root.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_NAME
cgroupsPerQOS: true
failSwapOn: false
# No host resolv.conf: pods resolve through the cluster DNS only, names outside it fail.
resolvConf: ""
clusterDNS: [$CLUSTER_DNS]
clusterDomain: $CLUSTER_DOMAIN
# The images are local and cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
# The default (/usr/libexec/kubernetes/...) is on the host's filesystem; /var/lib is the node's own.
volumePluginDir: /var/lib/kubelet/volume-plugins
serializeImagePulls: false
EOF
  node_daemon kubelet env "${PROXY_ENV[@]}" "$BIN/kubelet" \
    --config="$STATE/kubelet/config.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
}

start_kube_proxy() {
  cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $PKI/kube-proxy.kubeconfig }
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
iptables: { localhostNodePorts: false }
# 0 = leave the kernel's conntrack settings alone (some of them are global, not per namespace).
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
  node_daemon kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml"
}

KUBECTL() { node_run "$BIN/kubectl" --kubeconfig="$PKI/admin.kubeconfig" "$@"; }

apply_addons() {
  # envsubst replaces only the variables named in its argument (literally '$NAME', hence no expansion).
  # shellcheck disable=SC2016
  env CA_BUNDLE="$(base64 -w0 <"$PKI/ca.crt")" NODE_IP="$NODE_IP" NODE_NAME="$NODE_NAME" \
    CLUSTER_DNS="$CLUSTER_DNS" CLUSTER_DOMAIN="$CLUSTER_DOMAIN" BUSYBOX_IMAGE="$BUSYBOX_IMAGE" \
    COREDNS_IMAGE="$(coredns_image_name)" \
    envsubst '$CA_BUNDLE $NODE_IP $NODE_NAME $CLUSTER_DNS $CLUSTER_DOMAIN $BUSYBOX_IMAGE $COREDNS_IMAGE' \
    <"$CLUSTER_SCRIPTS/addons.yaml" >"$STATE/addons.yaml"
  KUBECTL apply -f "$STATE/addons.yaml" >"$LOGS/addons.log" 2>&1 || die "applying the add-on objects failed (see $LOGS/addons.log)"
}

start_addons() {
  node_daemon metrics-server "$BIN/metrics-server" \
    --kubeconfig="$PKI/metrics-server.kubeconfig" \
    --authentication-kubeconfig="$PKI/metrics-server.kubeconfig" \
    --authorization-kubeconfig="$PKI/metrics-server.kubeconfig" \
    --bind-address="$NODE_IP" --secure-port=4443 \
    --tls-cert-file="$PKI/metrics-server-serving.crt" --tls-private-key-file="$PKI/metrics-server-serving.key" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port \
    --kubelet-certificate-authority="$PKI/ca.crt" --metric-resolution=15s
  node_daemon kube-router "$BIN/kube-router" --kubeconfig="$PKI/kube-router.kubeconfig" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --hostname-override="$NODE_NAME" --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-node-port-range=30000-32767 --metrics-port=0 --health-port=20244
  node_daemon local-path-provisioner "$BIN/local-path-provisioner" --debug start \
    --kubeconfig="$PKI/local-path-provisioner.kubeconfig" --namespace=local-path-storage \
    --configmap-name=local-path-config --service-account-name=local-path-provisioner-service-account \
    --helper-image="$BUSYBOX_IMAGE" --provisioner-name=rancher.io/local-path
}

node_ready() {
  [[ "$(KUBECTL get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
apiservice_available() {
  [[ "$(KUBECTL get apiservice v1beta1.metrics.k8s.io -o 'jsonpath={.status.conditions[?(@.type=="Available")].status}')" == True ]]
}
daemon_alive() { kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null || die "$1 exited (see $LOGS/$1.log)"; }

write_env() {
  cat >"$ENV_FILE.tmp" <<EOF
# Written by scripts/cluster/up.sh; describes the running cluster (see the top of up.sh).
CLUSTER_DIR=$STATE
CLUSTER_CGROUP=/$CGROUP_NAME
KUBECONFIG=$STATE/kubeconfig
APISERVER_URL=https://127.0.0.1:$API_HOST_PORT
CONTAINERD_ADDRESS=$CONTAINERD_SOCK
CONTAINERD_NAMESPACE=k8s.io
NODE_PID=$(node_pid)
NODE_EXEC=$CLUSTER_SCRIPTS/node-exec.sh
NODE_EXPOSE=$CLUSTER_SCRIPTS/expose.sh
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
POD_CIDR=$POD_CIDR
SERVICE_CIDR=$SERVICE_CIDR
CLUSTER_DNS=$CLUSTER_DNS
CLUSTER_DOMAIN=$CLUSTER_DOMAIN
STORAGE_CLASS=local-path
BUSYBOX_IMAGE=$BUSYBOX_IMAGE
PAUSE_IMAGE=$PAUSE_IMAGE
KUBERNETES_VERSION=$KUBERNETES_VERSION
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

main() {
  # Leftovers of an earlier run (or a run that was killed) go first.
  "$CLUSTER_SCRIPTS/down.sh" --quiet
  mkdir -p "$STATE" "$LOGS" "$PIDS" "$RUN"
  chmod 700 "$STATE"
  trap on_exit EXIT
  # Interrupted (Ctrl-C, a CI timeout): exit through on_exit, which tears down.
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  install_prerequisites
  snapshot_host
  PAUSE_IMAGE="$(pause_image_name)"
  BUSYBOX_IMAGE="$(busybox_image_name)"

  step "node namespaces, cgroup /$CGROUP_NAME"
  start_node
  step "certificates"
  make_pki
  step "etcd, kube-apiserver"
  start_etcd
  start_apiserver
  wait_for 120 "kube-apiserver /readyz" KUBECTL get --raw /readyz
  API_HOST_PORT="$(free_host_port "${PYTHON_API_CLUSTER_API_PORT:-16443}")"
  forward_port apiserver "$API_HOST_PORT" "127.0.0.1:$APISERVER_NODE_PORT"
  sed "s#server: https://$NODE_IP:$APISERVER_NODE_PORT#server: https://127.0.0.1:$API_HOST_PORT#" \
    "$PKI/admin.kubeconfig" >"$STATE/kubeconfig"
  chmod 600 "$STATE/kubeconfig"

  step "kube-controller-manager, kube-scheduler, containerd"
  start_control_plane
  start_containerd
  wait_for 30 "containerd" ctr --address "$CONTAINERD_SOCK" version
  step "pause and busybox images"
  import_node_images
  step "kubelet, kube-proxy, add-ons"
  start_kubelet
  start_kube_proxy
  apply_addons
  start_addons
  wait_for 120 "node $NODE_NAME Ready" node_ready
  wait_for 120 "the metrics.k8s.io APIService" apiservice_available
  wait_for 120 "CoreDNS (kube-system/coredns) available" KUBECTL -n kube-system wait --for=condition=Available deployment/coredns --timeout=5s
  local d
  for d in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy metrics-server kube-router local-path-provisioner; do
    daemon_alive "$d"
  done
  write_env
  trap - EXIT INT TERM HUP
  step "ready: $ENV_FILE"
  log "API on host loopback: https://127.0.0.1:$API_HOST_PORT   tear down: $CLUSTER_SCRIPTS/down.sh"
  echo "$STATE/kubeconfig"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
