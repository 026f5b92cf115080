# Sourced by tests/e2e/stack.sh and tests/kind/node-image.sh: building
# Kubernetes commands from the Go module proxy.

# modinfo MOD@VER FIELD: a field of `go mod download -json` (Dir, GoMod).
modinfo() { go mod download -json "$1" | sed -n "s/.*\"$2\": \"\\(.*\\)\".*/\\1/p"; }

# kube_build VERSION SRC BIN CMD...: builds k8s.io/kubernetes/cmd/CMD at
# VERSION into BIN, through a wrapper module in SRC (k8s.io/kubernetes
# replaces its staging modules with local paths, which go install refuses;
# the wrapper pins each to its published version). The version variables
# are set: without them /version says v0.0.0-master, which breaks Helm's
# .Capabilities.KubeVersion, kubeVersion constraints and kubeadm.
kube_build() {
	local version=$1 dir=$2 bin=$3 c
	shift 3
	local staging=v0.${version#v1.} minor
	minor=$(cut -d. -f2 <<<"$version")
	rm -rf "$dir" && mkdir -p "$dir/out" "$bin"
	{
		printf 'module kubebuild\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$version"
		grep -E '^\s+k8s.io/[^ ]+ => \./staging' "$(modinfo "k8s.io/kubernetes@$version" GoMod)" |
			awk -v v="$staging" '{printf "\t%s => %s %s\n", $1, $1, v}'
		printf ')\n'
	} >"$dir/go.mod"
	{
		printf '//go:build tools\n\npackage kubebuild\n\nimport (\n'
		for c in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
		printf ')\n'
	} >"$dir/tools.go"
	(cd "$dir" && go mod tidy)
	local v=k8s.io/component-base/version cv=k8s.io/client-go/pkg/version
	local ldflags="-s -w -X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z -X $cv.gitVersion=$version -X $cv.gitMajor=1 -X $cv.gitMinor=$minor"
	local pkgs=()
	for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o out/ "${pkgs[@]}")
	mv "$dir"/out/* "$bin/"
}
