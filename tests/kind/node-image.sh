#!/usr/bin/env bash
# Builds a kind node image with nothing pulled from a container registry:
# the root file system from Debian packages (debootstrap), kind's base image
# files from the sigs.k8s.io/kind module, and every binary — kubelet,
# kubeadm, kubectl, the control plane, etcd, CoreDNS, pause, the local-path
# storage provisioner — from the Go module proxy and the kubernetes module's
# sources. The images kubeadm runs (control plane, etcd, CoreDNS, pause) and
# the default StorageClass's (the provisioner, its helper's busybox) are
# made here (tests/kind/mkimage) and imported into the node's containerd,
# pinned, as kind's own node image has them. Everything is cached by
# version: a second run builds nothing.
#
#   tests/kind/node-image.sh build   # build what is missing; prints the image reference
#   tests/kind/node-image.sh ref     # print the image reference
set -euo pipefail
cd "$(dirname "$0")/../.."

KUBE_VERSION=${KUBE_VERSION:-v1.33.13}
COREDNS_VERSION=${COREDNS_VERSION:-v1.12.0}
ETCD_VERSION=${ETCD_VERSION:-v3.5.24} # the etcd kubeadm $KUBE_VERSION asks for
LOCAL_PATH_VERSION=${LOCAL_PATH_VERSION:-v0.0.30} # the default StorageClass's provisioner
KIND_VERSION=${KIND_VERSION:-v0.33.0} # the base image files' version; go.mod pins the same
DEBIAN_SUITE=bookworm
REV=5 # bump when the node assembly below changes (the binaries are keyed by their versions)

CACHE=${DISTGEN_KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distgen/kind}
KEY="kube-$KUBE_VERSION-coredns-$COREDNS_VERSION-kind-$KIND_VERSION-$DEBIAN_SUITE"
DIR=$CACHE/$KEY
BIN=$DIR/bin
IMAGE=distgen.local/kind-node:$KUBE_VERSION-r$REV

say() { printf '[kind-node %s] %s\n' "$(date +%T)" "$*" >&2; }
# modinfo and kube_build.
. tests/kube-build.sh

# kube: the node's and the control plane's binaries.
kube() {
	local cmds=(kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy) c missing=0
	for c in "${cmds[@]}"; do [ -x "$BIN/$c" ] || missing=1; done
	[ $missing = 0 ] && return 0
	say "building ${cmds[*]} $KUBE_VERSION (cold: ~8 min on 2 cores, ~2 min after the e2e stack built kube-apiserver)"
	kube_build "$KUBE_VERSION" "$DIR/src/kube" "$BIN" "${cmds[@]}"
}

coredns() {
	[ -x "$BIN/coredns" ] && return 0
	say "building CoreDNS $COREDNS_VERSION"
	mkdir -p "$BIN"
	CGO_ENABLED=0 GOBIN=$DIR/src/gobin go install -trimpath -ldflags="-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
	mv "$DIR/src/gobin/coredns" "$BIN/coredns"
}

# etcd: the server module through a wrapper (its go.mod replaces its
# sibling modules with local paths, which go install refuses).
etcd() {
	[ -x "$BIN/etcd-$ETCD_VERSION" ] && return 0
	say "building etcd $ETCD_VERSION"
	local dir=$DIR/src/etcd
	rm -rf "$dir" && mkdir -p "$dir" "$BIN"
	printf 'module kindnode\n\ngo 1.23\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/go.mod"
	printf '//go:build tools\n\npackage kindnode\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$dir/tools.go"
	(cd "$dir" && go mod tidy && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$BIN/etcd-$ETCD_VERSION.tmp" go.etcd.io/etcd/server/v3)
	mv "$BIN/etcd-$ETCD_VERSION.tmp" "$BIN/etcd-$ETCD_VERSION"
}

# localpath: Rancher's local-path provisioner, the default StorageClass's.
localpath() {
	[ -x "$BIN/local-path-provisioner-$LOCAL_PATH_VERSION" ] && return 0
	say "building local-path-provisioner $LOCAL_PATH_VERSION"
	mkdir -p "$BIN"
	CGO_ENABLED=0 GOFLAGS=-mod=mod GOBIN=$DIR/src/gobin go install -trimpath -ldflags="-s -w" "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION"
	mv "$DIR/src/gobin/local-path-provisioner" "$BIN/local-path-provisioner-$LOCAL_PATH_VERSION"
}

# pause: the sandbox's process, from the kubernetes module's own source.
pause() {
	[ -x "$BIN/pause" ] && return 0
	local src
	src=$(modinfo "k8s.io/kubernetes@$KUBE_VERSION" Dir)/build/pause/linux/pause.c
	gcc -Os -static -DVERSION="\"distgen-$KUBE_VERSION\"" -o "$BIN/pause.tmp" "$src"
	strip "$BIN/pause.tmp"
	mv "$BIN/pause.tmp" "$BIN/pause"
}

# rootfs: Debian with what kind's base image installs, as a tarball
# (ROOTFS, named after the package list).
PACKAGES=systemd,containerd,runc,containernetworking-plugins,iptables,nftables,conntrack,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,fuse-overlayfs,ca-certificates,jq,procps,socat,busybox-static
# The storage images, by the names default-storage.yaml gets.
LOCAL_PATH_IMAGE=distgen.local/local-path-provisioner:$LOCAL_PATH_VERSION
LOCAL_PATH_HELPER=distgen.local/local-path-helper:r$REV
ROOTFS=$DIR/rootfs-$DEBIAN_SUITE-$(sha256sum <<<"$PACKAGES" | cut -c1-12).tar
rootfs() {
	[ -f "$ROOTFS" ] && return 0
	command -v debootstrap >/dev/null || apt_install debootstrap
	say "debootstrap $DEBIAN_SUITE"
	local root=$DIR/src/rootfs mirror
	mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
	rm -rf "$root"
	debootstrap --variant=minbase \
		--include="$PACKAGES" \
		"$DEBIAN_SUITE" "$root" "${mirror:-http://deb.debian.org/debian}" >"$DIR/src/debootstrap.log"
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	tar -C "$root" --numeric-owner -cf "$ROOTFS.tmp" .
	mv "$ROOTFS.tmp" "$ROOTFS"
	rm -rf "$root"
}

apt_install() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# images: the images kubeadm's static pods and add-ons run, by the names
# kubeadm asks for.
images() {
	[ -f "$DIR/images/.done-r$REV" ] && return 0
	say "making the control plane's images"
	rm -rf "$DIR/images" && mkdir -p "$DIR/images"
	local mk=$DIR/src/mkimage ref name
	go build -o "$mk" ./tests/kind/mkimage
	while read -r ref; do
		name=${ref##*/}
		name=${name%%:*}
		case $name in
		kube-apiserver | kube-controller-manager | kube-scheduler)
			"$mk" -o "$DIR/images/$name.tar" -tag "$ref" -file "$BIN/$name:/usr/local/bin/$name" ;;
		kube-proxy)
			"$mk" -o "$DIR/images/$name.tar" -tag "$ref" -base "$ROOTFS" -file "$BIN/$name:/usr/local/bin/$name" ;;
		etcd)
			[ "${ref##*:}" = "${ETCD_VERSION#v}-0" ] || { echo "kubeadm asks for $ref, this script builds etcd $ETCD_VERSION" >&2; exit 1; }
			"$mk" -o "$DIR/images/$name.tar" -tag "$ref" -file "$BIN/etcd-$ETCD_VERSION:/usr/local/bin/etcd" ;;
		coredns)
			"$mk" -o "$DIR/images/$name.tar" -tag "$ref" -file "$BIN/coredns:/coredns" -entrypoint '["/coredns"]' ;;
		pause)
			"$mk" -o "$DIR/images/$name.tar" -tag "$ref" -file "$BIN/pause:/pause" -entrypoint '["/pause"]' ;;
		*)
			echo "kubeadm asks for an image this script does not make: $ref" >&2
			exit 1
			;;
		esac
	done < <("$BIN/kubeadm" config images list --kubernetes-version "$KUBE_VERSION")
	# The storage provisioner, and its helper pods' shell: Debian's static
	# busybox under the names the helper's scripts run.
	"$mk" -o "$DIR/images/local-path-provisioner.tar" -tag "$LOCAL_PATH_IMAGE" \
		-file "$BIN/local-path-provisioner-$LOCAL_PATH_VERSION:/usr/local/bin/local-path-provisioner"
	tar -xOf "$ROOTFS" ./usr/bin/busybox >"$DIR/src/busybox"
	[ -s "$DIR/src/busybox" ] || { echo "no busybox in $ROOTFS" >&2; exit 1; }
	"$mk" -o "$DIR/images/local-path-helper.tar" -tag "$LOCAL_PATH_HELPER" \
		-file "$DIR/src/busybox:/bin/sh" -file "$DIR/src/busybox:/bin/mkdir" -file "$DIR/src/busybox:/bin/rm"
	touch "$DIR/images/.done-r$REV"
}

# node: the root file system with kind's base files and the binaries,
# imported; then a container of it runs containerd to import the images,
# and is committed as the node image.
node() {
	docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
	say "assembling $IMAGE"
	local kind root base=distgen.local/kind-base:$KUBE_VERSION-r$REV build=distgen-kind-node-build
	kind=$(modinfo "sigs.k8s.io/kind@$KIND_VERSION" Dir)/images/base/files
	root=$DIR/src/node
	rm -rf "$root" && mkdir -p "$root"
	tar -C "$root" -xf "$ROOTFS"
	# kind's base image: its files and the steps of its Dockerfile.
	cp -r "$kind"/. "$root"/
	chmod -R u+w "$root"/kind "$root"/etc "$root"/usr/local/bin
	chmod 0755 "$root"/usr/local/bin/* "$root"/kind/bin/*
	find "$root"/lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
	rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
		"$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
		"$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
	echo "ReadKMsg=no" >>"$root"/etc/systemd/journald.conf
	ln -sf /usr/lib/systemd/systemd "$root"/sbin/init
	chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
	chroot "$root" systemctl mask systemd-binfmt.service >/dev/null 2>&1
	mkdir -p "$root"/etc/kubernetes/manifests "$root"/opt/cni/bin
	# Debian's containerd and runc are where kind's units look for them.
	ln -sf /usr/bin/containerd "$root"/usr/local/bin/containerd
	ln -sf /usr/bin/containerd-shim-runc-v2 "$root"/usr/local/bin/containerd-shim-runc-v2
	ln -sf /usr/bin/ctr "$root"/usr/local/bin/ctr
	# Without CAP_SYS_RESOURCE (the docker shim) runc cannot lower a
	# container's OOM score: containerd keeps it at or above its own.
	sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$root"/etc/containerd/config.toml
	chroot "$root" ctr oci spec |
		chroot "$root" jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"} | del(.process.rlimits)' \
			>"$root"/etc/containerd/cri-base.json
	# The CNI plugins kind's own image ships, from Debian.
	for p in host-local loopback ptp portmap; do ln -sf /usr/lib/cni/$p "$root"/opt/cni/bin/$p; done
	cp "$BIN"/kubelet "$BIN"/kubeadm "$BIN"/kubectl "$root"/usr/bin/
	echo "$KUBE_VERSION" >"$root"/kind/version
	mkdir -p "$root"/kind/manifests "$root"/kind/images
	cp tests/kind/node/default-cni.yaml "$root"/kind/manifests/
	sed -e "s|LOCAL_PATH_PROVISIONER_IMAGE|$LOCAL_PATH_IMAGE|; s|LOCAL_PATH_HELPER_IMAGE|$LOCAL_PATH_HELPER|" \
		tests/kind/node/default-storage.yaml >"$root"/kind/manifests/default-storage.yaml
	mkdir -p "$root"/etc/cni/net.d
	cp tests/kind/node/10-distgen-ptp.conflist "$root"/etc/cni/net.d/
	install -m 0755 tests/kind/node/distgen-node-init "$root"/usr/local/bin/distgen-node-init
	cp "$DIR"/images/*.tar "$root"/kind/images/
	local entry='ENTRYPOINT ["/usr/local/bin/distgen-node-init", "/usr/local/bin/entrypoint", "/sbin/init"]'
	tar -C "$root" --numeric-owner -c . | docker import --change "$entry" --change 'ENV container=docker' - "$base" >/dev/null
	rm -rf "$root"
	# Import the images into the node's containerd, pinned, as kind does.
	docker rm -f "$build" >/dev/null 2>&1 || true
	PATH=$PWD/tests/kind:$PATH docker run -d --name "$build" --privileged --entrypoint /usr/bin/containerd "$base" >/dev/null
	local i
	for i in $(seq 50); do docker exec "$build" ctr version >/dev/null 2>&1 && break; sleep 0.2; done
	# Debian's containerd (1.6) has no import --label: the images are
	# labelled pinned afterwards, which containerd 1.7 and later honour.
	docker exec "$build" bash -c 'for f in /kind/images/*.tar; do ctr -n k8s.io images import --all-platforms --no-unpack --digests "$f" >/dev/null || exit 1; done; rm -rf /kind/images
		for i in $(ctr -n k8s.io images ls -q); do ctr -n k8s.io images label "$i" io.cri-containerd.pinned=pinned >/dev/null; done'
	docker exec "$build" ctr -n k8s.io images ls -q >&2
	docker stop "$build" >/dev/null
	docker commit --change "$entry" --change 'CMD []' --change 'ENV container=docker' "$build" "$IMAGE" >/dev/null
	docker rm "$build" >/dev/null
	docker rmi "$base" >/dev/null
}

case "${1:-build}" in
build)
	mkdir -p "$DIR/src"
	kube
	coredns
	etcd
	localpath
	pause
	rootfs
	images
	node
	rm -rf "$DIR/src"
	echo "$IMAGE"
	;;
ref) echo "$IMAGE" ;;
bindir) echo "$BIN" ;;
*)
	echo "usage: $0 build|ref" >&2
	exit 2
	;;
esac
