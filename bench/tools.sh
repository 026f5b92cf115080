#!/usr/bin/env bash
# Builds the CLIs bench/compare runs against, from the Go module proxy, into
# a cache keyed by version, and prints KEY=PATH lines for them:
#   DISTGEN_CRANE  crane (go-containerregistry)
#   DISTGEN_FLUX   flux (fluxcd/flux2)
# helm v3 and v4 come from the Makefile's tools target.
set -euo pipefail

CACHE=${TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distgen/tools}
CRANE_VERSION=v0.22.1
FLUX_VERSION=v2.7.3

say() { echo "bench/tools.sh: $*" >&2; }

crane() {
	local bin=$CACHE/crane-$CRANE_VERSION/crane
	if [ ! -x "$bin" ]; then
		say "building crane $CRANE_VERSION"
		GOBIN=$(dirname "$bin") go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" >&2
	fi
	echo "DISTGEN_CRANE=$bin"
}

# flux: go install refuses flux2 (its go.mod has a replace directive), and
# its module zip lacks the generated install manifests the CLI embeds. A
# wrapper module builds it from a copy of the sources with one placeholder
# manifest; `flux install` is the only command that reads them, and the
# benchmarks do not run it. Upstream's go.sum is copied in, so every
# checksum is still checked.
flux() {
	local bin=$CACHE/flux-$FLUX_VERSION/flux
	if [ ! -x "$bin" ]; then
		say "building flux $FLUX_VERSION (cold: ~5 min)"
		local tmp mod src gover
		tmp=$(mktemp -d)
		trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' RETURN
		mod=github.com/fluxcd/flux2/v2
		src=$(go mod download -json "$mod@$FLUX_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		cp -r "$src" "$tmp/src" && chmod -R u+w "$tmp/src"
		mkdir -p "$tmp/src/cmd/flux/manifests"
		printf '# flux install manifests are not generated for this build\n' >"$tmp/src/cmd/flux/manifests/placeholder.yaml"
		gover=$(sed -n 's/^go //p' "$tmp/src/go.mod")
		mkdir "$tmp/w"
		(
			cd "$tmp/w"
			printf 'module benchtools\n\ngo %s\n\nrequire %s %s\n' "$gover" "$mod" "$FLUX_VERSION" >go.mod
			go mod edit -replace="$mod=$tmp/src" -replace=gopkg.in/yaml.v3=gopkg.in/yaml.v3@v3.0.1
			printf '//go:build tools\n\npackage benchtools\n\nimport _ "%s/cmd/flux"\n' "$mod" >tools.go
			cp "$src/go.sum" go.sum && chmod u+w go.sum
			go mod tidy >&2
			mkdir -p "$(dirname "$bin")"
			CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.VERSION=${FLUX_VERSION#v}" -o "$bin.tmp" "$mod/cmd/flux"
		)
		mv "$bin.tmp" "$bin"
	fi
	echo "DISTGEN_FLUX=$bin"
}

# The registry process: Debian's package of distribution.
registry() {
	command -v docker-registry >/dev/null && return 0
	say "installing docker-registry"
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get install -y -qq docker-registry >&2
}

registry
crane
flux
