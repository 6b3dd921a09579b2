#!/usr/bin/env bash
# Prints what the cluster must never change on the host, normalised so that two snapshots of an
# untouched host compare equal: firewall (iptables, ip6tables, ipset), network links, addresses
# and routes, mounts, and the sysctls kubelet and kube-proxy would like to set. up.sh saves one
# before it starts anything; down.sh compares after the teardown.
set -uo pipefail

section() { printf '=== %s\n' "$1"; }

section iptables
# Packet counters and the generated-on comments change by themselves; the rules must not.
for save in iptables-save ip6tables-save iptables-legacy-save ip6tables-legacy-save; do
  command -v "$save" >/dev/null 2>&1 || continue
  echo "--- $save"
  "$save" 2>/dev/null | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]$//'
done
section ipset
ipset list -name 2>/dev/null | sort
section links
ip -o link show | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//' | awk '{print $1, $2}' | sort
section addresses
ip -o addr show | awk '{print $2, $3, $4}' | sort
section routes
ip route show table all 2>/dev/null | sort
section mounts
findmnt -rn -o TARGET,SOURCE,FSTYPE | sort
section sysctls
for key in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys \
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv4.conf.all.route_localnet \
  net.ipv4.conf.all.rp_filter net.bridge.bridge-nf-call-iptables net.netfilter.nf_conntrack_max \
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait \
  net.netfilter.nf_conntrack_tcp_be_liberal net.netfilter.nf_conntrack_udp_timeout \
  net.netfilter.nf_conntrack_udp_timeout_stream net.nf_conntrack_max net.ipv4.vs.conntrack fs.inotify.max_user_instances \
  fs.inotify.max_user_watches kernel.pid_max; do
  printf '%s = %s\n' "$key" "$(sysctl -n "$key" 2>/dev/null || echo '(absent)')"
done
section paths
# Where kubelet, containerd, the CNI plugins and kube-controller-manager write by default: the
# node must keep all of them inside its own mount namespace or the state dir.
for path in /usr/libexec/kubernetes /etc/kubernetes /var/lib/kubelet /var/lib/cni /var/lib/containerd /etc/cni /opt/cni \
  /var/log/pods /var/log/containers; do
  if [[ -e "$path" ]]; then echo "$path present"; else echo "$path absent"; fi
done
