# The two images the node itself needs, built locally (no registry can be reached) as
# `docker save`-style archives that `ctr images import` takes. Sourced by up.sh.
#   pause   – the pod sandbox: Kubernetes' own build/pause/linux/pause.c from the pinned
#             k8s.io/kubernetes module, compiled with gcc -static.
#   busybox – sh, mkdir, rm, wget, nc, nslookup... from Debian's busybox-static: the
#             local-path-provisioner's helper pods and the platform tests use it.
# shellcheck shell=bash

# image_archive OUT NAME ROOTFS ENTRYPOINT_JSON: one-layer archive (manifest.json, config, layer).
image_archive() {
  local out="$1" name="$2" rootfs="$3" entrypoint="$4" dir diff_id config_id
  dir="$(mktemp -d)"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$dir/layer.tar" .
  diff_id="sha256:$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)"
  cat >"$dir/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Entrypoint":$entrypoint,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["$diff_id"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"scripts/cluster/node-images.sh"}]}
EOF
  config_id="$(sha256sum "$dir/config.json" | cut -d' ' -f1)"
  mv "$dir/config.json" "$dir/$config_id.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]\n' "$config_id" "$name" >"$dir/manifest.json"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$dir" -cf "$out" manifest.json "$config_id.json" layer.tar
  rm -rf "$dir"
}

# The pause version Kubernetes tags its image with (build/pause/Makefile: TAG ?= 3.x).
pause_source_dir() { echo "$(go env GOMODCACHE)/k8s.io/kubernetes@$KUBERNETES_VERSION/build/pause"; }

pause_image_name() {
  local tag
  tag="$(sed -n 's/^TAG[ ?:]*= *//p' "$(pause_source_dir)/Makefile" | head -n1)"
  echo "localhost/python-api/pause:${tag:-unknown}"
}

busybox_image_name() {
  local version
  version="$(dpkg-query -W -f='${Version}' busybox-static)"
  version="${version#*:}"
  echo "localhost/python-api/busybox:${version%%-*}"
}

build_pause_image() {
  local out="$1" src work
  src="$(pause_source_dir)"
  if [[ ! -f "$src/linux/pause.c" ]]; then
    GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null
  fi
  [[ -f "$src/linux/pause.c" ]] || die "no build/pause/linux/pause.c in k8s.io/kubernetes@$KUBERNETES_VERSION"
  work="$(mktemp -d)"
  mkdir -p "$work/rootfs"
  # Flags of build/pause/Makefile; VERSION is what `pause -v` prints.
  gcc -Os -Wall -Werror -static -DVERSION="v${KUBERNETES_VERSION#v}-python-api" -o "$work/rootfs/pause" "$src/linux/pause.c"
  strip "$work/rootfs/pause"
  image_archive "$out" "$(pause_image_name)" "$work/rootfs" '["/pause"]'
  rm -rf "$work"
}

# CoreDNS as Minikube and kind run it: a pod in kube-system labelled k8s-app=kube-dns (what the
# NetworkPolicies' DNS rule selects), from the pinned static build in an image of its own.
coredns_image_name() { echo "localhost/python-api/coredns:${COREDNS_VERSION#v}"; }

build_coredns_image() {
  local out="$1" work
  work="$(mktemp -d)"
  mkdir -p "$work/rootfs"
  cp "$ROOT/.tools/bin/coredns" "$work/rootfs/coredns"
  image_archive "$out" "$(coredns_image_name)" "$work/rootfs" '["/coredns"]'
  rm -rf "$work"
}

build_busybox_image() {
  local out="$1" work applet
  work="$(mktemp -d)"
  mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/data"
  chmod 1777 "$work/rootfs/tmp"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$work/rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
  image_archive "$out" "$(busybox_image_name)" "$work/rootfs" '["/bin/sh"]'
  rm -rf "$work"
}
