#!/usr/bin/env bash
# Builds the cluster side of distgen's end-to-end tests from the Go module
# proxy and Debian packages: etcd and the OCI registry (Debian), the
# kube-apiserver and Flux's source, helm and kustomize controllers (Go).
# Binaries go to a cache keyed by version, so a second run builds nothing.
#
#   tests/e2e/stack.sh build    # install and build what is missing; prints the bin directory
#   tests/e2e/stack.sh bindir   # print the bin directory
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.33.13}
SOURCE_CONTROLLER=${SOURCE_CONTROLLER:-v1.7.3}
HELM_CONTROLLER=${HELM_CONTROLLER:-v1.4.3}
KUSTOMIZE_CONTROLLER=${KUSTOMIZE_CONTROLLER:-v1.7.2}

CACHE=${DISTGEN_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distgen/e2e}
KEY="kube-$KUBE_VERSION-sc-$SOURCE_CONTROLLER-hc-$HELM_CONTROLLER-kc-$KUSTOMIZE_CONTROLLER"
BIN=$CACHE/$KEY/bin
SRC=$CACHE/$KEY/src

say() { printf '[e2e-stack %s] %s\n' "$(date +%T)" "$*" >&2; }

# modinfo and kube_build.
. "$(dirname "${BASH_SOURCE[0]}")/../kube-build.sh"

apt_packages() {
	local missing=()
	command -v etcd >/dev/null || missing+=(etcd-server)
	command -v docker-registry >/dev/null || missing+=(docker-registry)
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]} from Debian"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Packaged services do not start here; the tests run their own.
	$sudo systemctl disable --now etcd docker-registry >/dev/null 2>&1 || true
}

kube_apiserver() {
	[ -x "$BIN/kube-apiserver" ] && return 0
	say "building kube-apiserver $KUBE_VERSION (cold: ~4 min on 2 cores)"
	kube_build "$KUBE_VERSION" "$SRC/kube-apiserver" "$BIN" kube-apiserver
}

# controller NAME VERSION: a Flux controller through a wrapper module that
# keeps upstream's versioned replace directives and its go.sum (some
# checksum-database lookups fail through this proxy; checks stay on).
controller() {
	local name=$1 version=$2 mod=github.com/fluxcd/$1
	[ -x "$BIN/$name" ] && return 0
	say "building $name $version (cold: 2-4 min)"
	local dir=$SRC/$name gomod src gover
	gomod=$(modinfo "$mod@$version" GoMod)
	src=$(modinfo "$mod@$version" Dir)
	gover=$(sed -n 's/^go //p' "$gomod")
	rm -rf "$dir" && mkdir -p "$dir"
	printf 'module e2estack\n\ngo %s\n\nrequire %s %s\n' "$gover" "$mod" "$version" >"$dir/go.mod"
	(
		cd "$dir"
		# Versioned replaces as OLD[@VER]=NEW@VER; local ones (./api) are dropped.
		go mod edit -print "$gomod" | awk '
			/^replace \(/ { block = 1; next }
			block && /^\)/ { block = 0; next }
			/=>/ && (block || /^replace /) {
				line = $0; sub(/^replace /, "", line); sub(/\/\/.*/, "", line)
				split(line, side, "=>"); n = split(side[1], l, " "); m = split(side[2], r, " ")
				if (m == 2) print (n == 2 ? l[1] "@" l[2] : l[1]) "=" r[1] "@" r[2]
			}' | while read -r rep; do go mod edit -replace="$rep"; done
		printf '//go:build tools\n\npackage e2estack\n\nimport _ "%s"\n' "$mod" >tools.go
		cp "$src/go.sum" go.sum && chmod u+w go.sum
		go mod tidy
		CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$BIN/$name.tmp" "$mod"
	)
	mv "$BIN/$name.tmp" "$BIN/$name"
}

# crds: the CRDs of each controller, from its module zip.
crds() {
	local name version
	mkdir -p "$BIN/crds"
	for pair in "source-controller $SOURCE_CONTROLLER" "helm-controller $HELM_CONTROLLER" "kustomize-controller $KUSTOMIZE_CONTROLLER"; do
		read -r name version <<<"$pair"
		[ -f "$BIN/crds/.$name" ] && continue
		cp "$(modinfo "github.com/fluxcd/$name@$version" Dir)"/config/crd/bases/*.yaml "$BIN/crds/"
		chmod u+w "$BIN"/crds/*.yaml
		touch "$BIN/crds/.$name"
	done
}

case "${1:-build}" in
build)
	mkdir -p "$BIN" "$SRC"
	apt_packages
	kube_apiserver
	controller source-controller "$SOURCE_CONTROLLER"
	controller helm-controller "$HELM_CONTROLLER"
	controller kustomize-controller "$KUSTOMIZE_CONTROLLER"
	crds
	rm -rf "$SRC" # the module cache keeps the sources; the wrappers are cheap
	echo "$BIN"
	;;
bindir) echo "$BIN" ;;
*)
	echo "usage: $0 build|bindir" >&2
	exit 2
	;;
esac
