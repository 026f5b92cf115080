#!/usr/bin/env bash
# The pods-running proof: a kind cluster from the offline node image
# (tests/kind/node-image.sh) and `distgen dev up` of the demo bundle with
# the sandbox tenants (--tenants), twice: served from the node, the images
# mirrored there under their own names (containerd's mirror for their
# registries); then put into a registry the user runs (--registry: a
# go-containerregistry registry over TLS with a private CA, in a container
# on kind's network), the images relocated there as an air-gapped site
# pulls them (--relocate-images). Each time it checks that
# the demo's pods and the tenant's cache (on a volume of the node's default
# StorageClass) run, that containerd's own pull records (not the
# manifests) name only what the cluster's registry served, and that
# `distgen dev down` leaves nothing behind.
#
# Every image is built here: the Flux controllers from the binaries the e2e
# stack builds, and stand-ins for the other images (the pause binary under
# the image's name; the cache's also has a redis-cli that answers its
# readiness probe by exiting 0), pushed to a loopback registry a mirror
# reads them from (--images-from).
#
#   tests/kind/e2e.sh DISTGEN_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."
DISTGEN=$(realpath "${1:?usage: $0 DISTGEN_BINARY}")
NAME=${KIND_E2E_NAME:-dg-e2e}
say() { printf '[kind-e2e %s] %s\n' "$(date +%T)" "$*" >&2; }

docker info >/dev/null 2>&1 || { echo "kind e2e: docker is not running" >&2; exit 1; }
# This kernel refuses --privileged: the shim gives a node what it needs.
export PATH=$PWD/tests/kind:$PATH

start=$(date +%s)
IMAGE=$(bash tests/kind/node-image.sh build)
say "node image $IMAGE ready in $(($(date +%s) - start))s"
E2E_BIN=$(bash tests/e2e/stack.sh build)
NODE_BIN=$(bash tests/kind/node-image.sh bindir)

work=$(mktemp -d)
regpid=""
cleanup() {
	[ -n "$regpid" ] && kill "$regpid" 2>/dev/null
	docker rm -f "$NAME-registry" >/dev/null 2>&1 || true
	if [ "${KEEP:-}" != 1 ]; then
		"$DISTGEN" dev down --name "$NAME" >/dev/null 2>&1 || true
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# A loopback registry holding the images as a mirror lays them out:
# images/<registry>/<repository>:<tag>.
port=""
for p in $(shuf -i 20000-60000 -n 20); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p && break; fi
done
[ -n "$port" ] || { echo "kind e2e: no free loopback port" >&2; exit 1; }
cat >"$work/registry.yml" <<YML
version: 0.1
storage: { filesystem: { rootdirectory: $work/registry } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
go build -o "$work/mkimage" ./tests/kind/mkimage
printf 'int main(void) { return 0; }\n' | gcc -x c -Os -static -o "$work/exit0" -
tenant_images=$("$DISTGEN" tenant build --bundle sandbox --out "$work/sandbox" -o json | jq -r '.images[]')
# standins PREFIX: every image, as a mirror lays them out under PREFIX.
standins() {
	local ref repo name
	for ref in $("$DISTGEN" images --bundle demo) $tenant_images; do
		repo=${ref%:*}
		name=${repo##*/}
		case $name in
		source-controller | helm-controller | kustomize-controller)
			"$work/mkimage" -push "$1/images/$ref" -file "$E2E_BIN/$name:/usr/local/bin/$name" -entrypoint "[\"/usr/local/bin/$name\"]" ;;
		redis)
			"$work/mkimage" -push "$1/images/$ref" -file "$NODE_BIN/pause:/pause" -file "$work/exit0:/usr/local/bin/redis-cli" -entrypoint '["/pause"]' ;;
		*)
			"$work/mkimage" -push "$1/images/$ref" -file "$NODE_BIN/pause:/pause" -entrypoint '["/pause"]' ;;
		esac
	done
	say "images pushed to $1"
}
standins "127.0.0.1:$port"

# userregistry: a registry the user runs, on kind's network (made by the
# first dev up): go-containerregistry's, in memory, over TLS with a
# certificate of a CA made here (tests/kind/tlsregistry), for both names it
# is reached by. This machine pushes through its published loopback port,
# trusting the CA through SSL_CERT_FILE; the node reaches it by its
# container's name, trusting the CA through --registry-ca. The stand-in
# images go under upstream/, which dev up mirrors into site/.
userregistry() {
	local uport="" p
	CGO_ENABLED=0 go build -o "$work/tlsregistry" ./tests/kind/tlsregistry
	"$work/tlsregistry" -gen "$work/tls" -hosts "$NAME-registry,127.0.0.1"
	"$work/mkimage" -o "$work/registry.tar" -tag distgen.local/e2e-registry:latest -file "$work/tlsregistry:/tlsregistry" \
		-file "$work/tls/tls.crt:/tls/tls.crt" -file "$work/tls/tls.key:/tls/tls.key" \
		-entrypoint '["/tlsregistry", "-addr", ":5000", "-cert", "/tls/tls.crt", "-key", "/tls/tls.key"]'
	docker load -i "$work/registry.tar" >/dev/null
	for p in $(shuf -i 20000-60000 -n 20); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then uport=$p && break; fi
	done
	docker rm -f "$NAME-registry" >/dev/null 2>&1 || true
	docker run -d --name "$NAME-registry" --network kind -p "127.0.0.1:$uport:5000" distgen.local/e2e-registry:latest >/dev/null
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$uport") 2>/dev/null && break; sleep 0.1; done
	export SSL_CERT_FILE=$work/tls/ca.crt
	standins "127.0.0.1:$uport/upstream"
	UPSTREAM=127.0.0.1:$uport/upstream
	USER_REGISTRY=127.0.0.1:$uport/site
	CLUSTER_REGISTRY=$NAME-registry:5000
	say "a user's registry: $USER_REGISTRY here, $CLUSTER_REGISTRY/site from the node, over TLS"
}

node="$NAME-control-plane"
kubectl() { docker exec "$node" kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }

# up MODE [FLAGS]: dev up of the demo, then the checks; MODE says where
# containerd must have pulled the images from.
up() {
	local mode=$1 phase pulls served
	shift
	start=$(date +%s)
	"$DISTGEN" dev up --bundle demo --tenants sandbox --name "$NAME" --node-image "$IMAGE" \
		--wait 5m -o json "$@" >"$work/up-$mode.json"
	say "$mode: dev up took $(($(date +%s) - start))s"
	grep -c '"ready": true' "$work/up-$mode.json" | xargs printf '[kind-e2e] %s HelmReleases Ready\n' >&2
	# The demo's workload: the log shipper's DaemonSet pod, Running.
	for _ in $(seq 60); do
		phase=$(kubectl -n dg-monitoring get pods -l app.kubernetes.io/instance=log-shipper -o jsonpath='{.items[*].status.phase}' 2>/dev/null || true)
		[ "$phase" = Running ] && break
		sleep 2
	done
	kubectl get pods -A -o wide >&2
	[ "$phase" = Running ] || { echo "FAIL ($mode): the log shipper's pod is not Running (phase: ${phase:-none})" >&2; exit 1; }
	# The tenant's cache: its HelmRelease waited for the StatefulSet, whose
	# volume the node's local-path provisioner made.
	grep -q '"namespace": "tenant-team"' "$work/up-$mode.json" || { echo "FAIL ($mode): no tenant release in the summary" >&2; exit 1; }
	phase=$(kubectl -n tenant-team get pod cache-0 -o jsonpath='{.status.phase}')
	[ "$phase" = Running ] || { echo "FAIL ($mode): the tenant's cache-0 is not Running (phase: ${phase:-none})" >&2; exit 1; }
	phase=$(kubectl -n tenant-team get pvc data-cache-0 -o jsonpath='{.status.phase}')
	[ "$phase" = Bound ] || { echo "FAIL ($mode): the cache's volume claim is not Bound (phase: ${phase:-none})" >&2; exit 1; }
	# And every other pod: the control plane, CoreDNS, kube-proxy, Flux,
	# storage (its helper pods end Succeeded).
	local notrunning
	notrunning=$(kubectl get pods -A --no-headers -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase |
		awk '$3 != "Running" && !($1 == "local-path-storage" && $3 == "Succeeded")')
	[ -z "$notrunning" ] || { echo "FAIL ($mode): pods not Running:" >&2; echo "$notrunning" >&2; exit 1; }
	# containerd's own records of what it pulled.
	pulls=$(docker exec "$node" journalctl -u containerd --no-pager -o cat | grep -o 'PullImage \\"[^\\]*\\"' | sed 's/PullImage \\"//; s/\\"$//' | sort -u)
	echo "$pulls" >&2
	[ -n "$pulls" ] || { echo "FAIL ($mode): containerd recorded no pulls" >&2; exit 1; }
	case $mode in
	relocated)
		# The user's registry's own records of what it served: manifests
		# read (GET; dev up's mirror only checks for them, with HEAD).
		served=$(docker logs "$NAME-registry" 2>&1 | grep -oE 'GET /v2/[^ ]*/manifests/[^ ]+$' | awk '{print $2}' | sort -u)
		echo "$served" >&2
		# Every pull names the user's registry, none anywhere else, and
		# each one was served there.
		local reg=$CLUSTER_REGISTRY/site ref path
		if grep -v "^$reg/" <<<"$pulls"; then
			echo "FAIL ($mode): containerd pulled the images above from outside the user's registry" >&2
			exit 1
		fi
		grep -q "^$reg/images/docker.io/fluent/fluent-bit:" <<<"$pulls" || { echo "FAIL ($mode): no pull of the log shipper's image from the user's registry" >&2; exit 1; }
		grep -q "^$reg/images/docker.io/library/redis:" <<<"$pulls" || { echo "FAIL ($mode): no pull of the tenant's redis from the user's registry" >&2; exit 1; }
		# Where the registry is, for tools that look (KEP-1755).
		kubectl -n kube-public get configmap local-registry-hosting -o jsonpath='{.data.localRegistryHosting\.v1}' | grep -qx "hostFromContainerRuntime: $CLUSTER_REGISTRY" ||
			{ echo "FAIL ($mode): no local-registry-hosting ConfigMap naming $CLUSTER_REGISTRY" >&2; exit 1; }
		for ref in $pulls; do
			path=${ref#*/}
			grep -q "^/v2/${path%:*}/manifests/" <<<"$served" ||
				{ echo "FAIL ($mode): the user's registry did not serve $ref" >&2; exit 1; }
		done
		;;
	mirrored)
		# The node registry's own records of what it served (distgen serve --access-log).
		served=$(docker exec "$node" journalctl -u distgen-registry --no-pager -o cat | grep -E '^(GET|HEAD) /v2/.*/manifests/[^ ]+ 200 ' | awk '{print $2}' | sort -u)
		echo "$served" >&2
		# The manifests keep the images' names; each one pulled was served
		# by the node's registry, as the mirror of its registry.
		grep -q '^docker.io/fluent/fluent-bit:3.2.4$' <<<"$pulls" || { echo "FAIL ($mode): no pull of docker.io/fluent/fluent-bit:3.2.4" >&2; exit 1; }
		grep -q '^docker.io/library/redis:7.4.2$' <<<"$pulls" || { echo "FAIL ($mode): no pull of the tenant's docker.io/library/redis:7.4.2" >&2; exit 1; }
		local ref host path
		for ref in $pulls; do
			host=${ref%%/*}
			path=${ref#*/}
			[ "$host" = docker.io ] || [ "$host" = ghcr.io ] || { echo "FAIL ($mode): an unexpected pull: $ref" >&2; exit 1; }
			grep -qx "/v2/images/$host/${path%:*}/manifests/${path##*:}" <<<"$served" ||
				{ echo "FAIL ($mode): the node's registry did not serve $ref" >&2; exit 1; }
		done
		;;
	esac
	say "$mode: pods run on images the cluster's registry served"
	"$DISTGEN" dev down --name "$NAME" >&2
	if docker ps -a --format '{{.Names}}' | grep -qx "$node"; then
		echo "FAIL ($mode): dev down left the node container" >&2
		exit 1
	fi
	say "$mode: dev down removed the cluster"
}

up mirrored --images-from "oci://127.0.0.1:$port" --plain-http
userregistry
up relocated --images-from "oci://$UPSTREAM" --relocate-images \
	--registry "$USER_REGISTRY" --cluster-registry "$CLUSTER_REGISTRY" --registry-ca "$work/tls/ca.crt"
