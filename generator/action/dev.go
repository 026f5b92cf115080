package action

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	"sigs.k8s.io/kind/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/render/flux"
)

// DevRegistry is where a dev cluster's node serves the release: its own
// loopback address, so containerd and the source-controller (in the
// node's network) reach it over plain HTTP without it leaving the node.
const DevRegistry = "127.0.0.1:5000"

// Paths inside the node of what dev up mounts there.
const (
	devNodeRegistry = "/var/lib/distgen/registry"
	devNodeBinary   = "/usr/local/bin/distgen"
	devNodeHosts    = "/etc/containerd/certs.d"
)

// DevUp creates a local kind cluster, serves a bundle's release to it from
// its node, installs Flux's controllers and bootstraps the bundle.
type DevUp struct {
	Project
	// Name is the kind cluster's name.
	Name string
	// NodeImage is the node image; empty means kind's own default.
	NodeImage string
	// Tenants, when set, is a tenant bundle of the project: its tenants
	// are served and bootstrapped beside the bundle.
	Tenants string
	// RelocateImages mirrors the release's images (and Flux's) into the
	// node's registry and makes every release pull them from there.
	RelocateImages bool
	// ImagesFrom is where images are read from (a location a mirror
	// filled), to mirror them into the node's registry. Without
	// RelocateImages the manifests keep the images' names, and the node's
	// containerd pulls them from its registry as a mirror of theirs.
	ImagesFrom string
	// PlainHTTP talks HTTP to ImagesFrom and Registry (loopback
	// registries); the node then reaches ClusterRegistry over HTTP too.
	PlainHTTP bool
	// Registry, when set, is a registry the user runs, HOST[:PORT][/PREFIX]
	// as this machine reaches it: the release is put there instead of
	// being served from the node.
	Registry string
	// ClusterRegistry is HOST[:PORT] the node (its containerd and Flux)
	// reaches Registry's host at; empty means Registry's own.
	ClusterRegistry string
	// RegistryCA is a file of PEM certificates Registry's certificate
	// chains to, for the node's containerd and Flux's source-controller to
	// trust (this machine must trust it already).
	RegistryCA string
	// Wait bounds each wait: the control plane, Flux, the releases.
	Wait time.Duration
	// Logger prints kind's progress; Log distgen's own steps.
	Logger log.Logger
	Log    io.Writer
	// StateDir keeps what up made, for down; empty means DevStateDir.
	StateDir string
	// Retain keeps the nodes when creating the cluster fails, to look
	// into why (dev down removes them).
	Retain bool
	// Binary is the distgen the node serves the release with (mounted
	// there; a static Linux build); empty means this process's.
	Binary string
}

// DevState is what dev up made, kept for dev down and printed as the
// summary.
type DevState struct {
	Cluster    string       `json:"cluster"`
	NodeImage  string       `json:"nodeImage,omitempty"`
	Kubeconfig string       `json:"kubeconfig"`
	Nodes      []string     `json:"nodes,omitempty"`
	Registry   string       `json:"registry,omitempty"`
	Bundle     string       `json:"bundle,omitempty"`
	Version    string       `json:"version,omitempty"`
	Tenants    string       `json:"tenants,omitempty"`
	Releases   []DevRelease `json:"releases,omitempty"`
}

// DevRelease is one HelmRelease of the bootstrapped bundle and whether it
// became Ready.
type DevRelease struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Ready     bool   `json:"ready"`
	Message   string `json:"message,omitempty"`
}

const devStateFile = "state.json"

// DevStateDir is where dev up keeps what it made for the cluster name:
// distgen/dev/NAME under the user's cache directory.
func DevStateDir(name string) (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "distgen", "dev", name), nil
}

func (u *DevUp) say(format string, args ...any) {
	if u.Log != nil {
		fmt.Fprintf(u.Log, format+"\n", args...)
	}
}

// Run builds the release, creates the cluster and bootstraps the bundle.
// It returns what it made, with each release's state; a release that did
// not become Ready is an error after the summary is kept.
func (u *DevUp) Run(ctx context.Context) (*DevState, error) {
	if !api.IsName(u.Name) {
		return nil, &UsageError{Msg: fmt.Sprintf("--name %q: want a DNS label (kind names containers after it)", u.Name)}
	}
	dir := u.StateDir
	if dir == "" {
		var err error
		if dir, err = DevStateDir(u.Name); err != nil {
			return nil, err
		}
	}
	buildDir, pushDir, regDir := filepath.Join(dir, "build"), filepath.Join(dir, "push"), filepath.Join(dir, "registry")
	// Where the release goes (as this machine reaches it), and the same
	// registry as the node reaches it: the node's own, or the user's.
	target, clusterReg, err := u.registries(regDir)
	if err != nil {
		return nil, err
	}
	plainInCluster := u.Registry == "" || u.PlainHTTP
	ca, err := u.registryCA()
	if err != nil {
		return nil, err
	}
	binary := u.Binary
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		binary = exe
	}
	p := kindProvider(u.Logger)
	existing, err := p.List()
	if err != nil {
		return nil, fmt.Errorf("listing kind clusters (is docker running?): %w", err)
	}
	if slices.Contains(existing, u.Name) {
		return nil, &UsageError{Msg: fmt.Sprintf("a kind cluster %q exists already: remove it with distgen dev down --name %s (if distgen made it) or choose another --name", u.Name, u.Name)}
	}
	if _, err := os.Stat(filepath.Join(dir, devStateFile)); err == nil {
		return nil, &UsageError{Msg: fmt.Sprintf("%s holds a previous dev up of %q: run distgen dev down --name %s first", dir, u.Name, u.Name)}
	}

	// The release: built, pushed to a layout, mirrored into the layout
	// the node serves (with the images, relocated, when asked).
	u.say("building the release")
	cache, err := chart.DefaultCache()
	if err != nil {
		return nil, err
	}
	b := &Build{Project: u.Project, Out: buildDir, Cache: cache, AllowUnbumped: true}
	built, err := b.Run(ctx)
	if err != nil {
		return nil, err
	}
	rel := built.Release
	tenantDir := filepath.Join(dir, "tenant-build")
	var trel *api.TenantRelease
	if u.Tenants != "" {
		u.say("building the tenant bundle %s", u.Tenants)
		tb := &TenantBuild{TenantProject: TenantProject{Dir: u.Dir, Bundle: u.Tenants}, Out: tenantDir, Cache: cache}
		tbuilt, err := tb.Run(ctx)
		if err != nil {
			return nil, err
		}
		trel = tbuilt.Release
	}
	u.say("pushing %s:%s into a layout, %s", rel.Bundle, rel.Version, pushDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st := &DevState{Cluster: u.Name, NodeImage: u.NodeImage, Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Registry: clusterReg, Bundle: rel.Bundle, Version: rel.Version, Tenants: u.Tenants}
	// Kept before the cluster exists: a create that fails half-way leaves
	// a state dev down cleans up after.
	if err := writeDevState(dir, st); err != nil {
		return nil, err
	}
	push := &Push{Project: u.Project, From: buildDir, To: publish.SchemeLayout + pushDir, Force: true}
	if _, err := push.Run(ctx); err != nil {
		return nil, err
	}
	withImages := u.RelocateImages || u.ImagesFrom != ""
	// mirrorInto copies one artifact of the layout (NAME:VERSION, or a
	// tenant's) into the cluster's registry, with its images when asked.
	mirrorInto := func(bundle string) error {
		m := &Mirror{From: publish.SchemeLayout + pushDir, Bundle: bundle, To: target,
			SkipImages: !withImages, ImagesFrom: u.ImagesFrom, PlainHTTP: u.PlainHTTP}
		_, err := m.Run(ctx)
		return err
	}
	u.say("putting %s:%s into %s", rel.Bundle, rel.Version, target)
	if err := mirrorInto(rel.Bundle + ":" + rel.Version); err != nil {
		return nil, err
	}
	images := rel.Images
	if trel != nil {
		tp := &TenantPush{Dir: tenantDir, To: publish.SchemeLayout + pushDir, Force: true}
		if _, err := tp.Run(ctx); err != nil {
			return nil, err
		}
		for _, t := range trel.Tenants {
			if err := mirrorInto(TenantsDir + "/" + t.Name + ":" + t.Version); err != nil {
				return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
			}
		}
		images = append(slices.Clone(images), trel.Images...)
	}

	mounts := []v1alpha4.Mount{{HostPath: binary, ContainerPath: devNodeBinary, Readonly: true}}
	if u.Registry == "" {
		mounts = append(mounts, v1alpha4.Mount{HostPath: regDir, ContainerPath: devNodeRegistry, Readonly: true})
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Nodes:    []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, ExtraMounts: mounts}},
		// Registries are configured per host (hosts.toml), written below.
		ContainerdConfigPatches: []string{"[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"" + devNodeHosts + "\"\n"},
	}
	opts := []cluster.CreateOption{
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithKubeconfigPath(st.Kubeconfig),
		cluster.CreateWithWaitForReady(u.wait()),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
		cluster.CreateWithRetain(u.Retain),
	}
	if u.NodeImage != "" {
		opts = append(opts, cluster.CreateWithNodeImage(u.NodeImage))
	}
	if err := p.Create(u.Name, opts...); err != nil {
		return nil, fmt.Errorf("creating kind cluster %q: %w", u.Name, err)
	}
	all, err := p.ListNodes(u.Name)
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		st.Nodes = append(st.Nodes, n.String())
	}
	slices.Sort(st.Nodes)
	if err := writeDevState(dir, st); err != nil {
		return nil, err
	}
	if len(all) != 1 {
		return nil, fmt.Errorf("kind made %d nodes, want the one dev up asked for", len(all))
	}
	node := all[0]

	// The cluster's registry (the node's own is plain HTTP on its
	// loopback address); with images mirrored there and not relocated, it
	// is also the mirror of each registry the images come from.
	hosts := map[string]string{}
	regHost, _, _ := strings.Cut(clusterReg, "/")
	nodeCA := ""
	if len(ca) > 0 {
		nodeCA = devNodeHosts + "/" + regHost + "/ca.crt"
		if err := nodeutils.WriteFile(node, nodeCA, string(ca)); err != nil {
			return nil, fmt.Errorf("writing --registry-ca into node %s: %w", node, err)
		}
	}
	if plainInCluster || nodeCA != "" {
		hosts[regHost] = registryHosts(regHost, "", plainInCluster, nodeCA)
	}
	if withImages && !u.RelocateImages {
		for _, ref := range images {
			host, path, err := mirroredHost(clusterReg, ref)
			if err != nil {
				return nil, err
			}
			hosts[host] = registryHosts(host, regHost+"/v2/"+path, plainInCluster, nodeCA)
		}
	}
	for host, toml := range hosts {
		if err := nodeutils.WriteFile(node, devNodeHosts+"/"+host+"/hosts.toml", toml); err != nil {
			return nil, fmt.Errorf("configuring containerd in node %s for %s: %w", node, host, err)
		}
	}
	if u.Registry == "" {
		u.say("serving the release from the node at %s", DevRegistry)
		if err := serveInNode(ctx, node); err != nil {
			return nil, err
		}
	}

	kube, err := newKubeClient(st.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if u.Registry != "" {
		// Where the user's registry is, for the tools that look (KEP-1755).
		cm, err := registryHosting(strings.TrimSuffix(u.Registry, "/"), clusterReg)
		if err != nil {
			return nil, err
		}
		if _, err := kube.apply(ctx, cm); err != nil {
			return nil, fmt.Errorf("the local-registry-hosting ConfigMap: %w", err)
		}
	}
	u.say("installing Flux")
	relocateTo := ""
	if u.RelocateImages {
		relocateTo = clusterReg
	}
	controllers, err := fluxImages(rel.PlatformImages, relocateTo)
	if err != nil {
		return nil, err
	}
	crds, err := fluxCRDs(ctx, controllers)
	if err != nil {
		return nil, err
	}
	crdObjs, err := kube.apply(ctx, crds)
	if err != nil {
		return nil, fmt.Errorf("applying Flux's CRDs: %w", err)
	}
	if err := kube.waitCRDs(ctx, crdObjs, u.wait()); err != nil {
		return nil, err
	}
	install, err := flux.InstallObjects(flux.Install{Images: controllers, SourceHostNetwork: true, CA: ca})
	if err != nil {
		return nil, err
	}
	if _, err := kube.apply(ctx, install); err != nil {
		return nil, fmt.Errorf("applying Flux's controllers: %w", err)
	}
	if err := kube.waitDeployments(ctx, flux.BootstrapNamespace, flux.Controllers, u.wait()); err != nil {
		return nil, err
	}

	u.say("bootstrapping %s:%s", rel.Bundle, rel.Version)
	bs := &Bootstrap{
		From:    publish.SchemeRegistry + clusterReg + "/bundles/" + rel.Bundle + ":" + rel.Version,
		Release: buildDir, PlainHTTP: plainInCluster, Interval: time.Minute,
		RelocateImages: u.RelocateImages, inventoryFrom: target,
	}
	objs, err := bs.Run(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := kube.apply(ctx, objs); err != nil {
		return nil, fmt.Errorf("bootstrap objects: %w", err)
	}
	var want []DevRelease
	for _, c := range rel.Components {
		want = append(want, DevRelease{Namespace: c.Namespace, Name: c.Name})
	}
	if trel != nil {
		u.say("bootstrapping the tenants of %s %s", trel.Bundle, trel.Version)
		tbs := &TenantBootstrap{
			From: []string{publish.SchemeRegistry + clusterReg}, Release: tenantDir, PlainHTTP: plainInCluster, Interval: time.Minute,
			RelocateImages: u.RelocateImages, inventoryFrom: target,
		}
		objs, err := tbs.Run(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := kube.apply(ctx, objs); err != nil {
			return nil, fmt.Errorf("tenant bootstrap objects: %w", err)
		}
		for _, t := range trel.Tenants {
			for _, in := range t.Instances {
				want = append(want, DevRelease{Namespace: t.Namespace, Name: in.Name})
			}
		}
	}
	u.say("waiting for %d HelmReleases", len(want))
	st.Releases, err = kube.waitHelmReleases(ctx, want, u.wait())
	if werr := writeDevState(dir, st); werr != nil {
		return nil, werr
	}
	return st, err
}

func (u *DevUp) wait() time.Duration {
	if u.Wait > 0 {
		return u.Wait
	}
	return 5 * time.Minute
}

// kindProvider is kind's docker provider, logging to logger (nil: nowhere).
func kindProvider(logger log.Logger) *cluster.Provider {
	if logger == nil {
		logger = log.NoopLogger{}
	}
	return cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(logger))
}

// serveInNode runs distgen serve in the node as a systemd unit, on the
// node's loopback address, and waits until it accepts connections.
func serveInNode(ctx context.Context, node nodes.Node) error {
	host, port, _ := strings.Cut(DevRegistry, ":")
	if err := node.CommandContext(ctx, "systemd-run", "--unit=distgen-registry", "--property=Restart=on-failure",
		devNodeBinary, "serve", devNodeRegistry, "--addr", DevRegistry, "--access-log").Run(); err != nil {
		return fmt.Errorf("starting distgen serve in node %s: %w", node, err)
	}
	probe := fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port)
	for i := 0; ; i++ {
		if node.CommandContext(ctx, "bash", "-c", probe).Run() == nil {
			return nil
		}
		if i == 50 {
			var out strings.Builder
			_ = node.CommandContext(ctx, "journalctl", "-u", "distgen-registry", "--no-pager", "-n", "20").SetStdout(&out).Run()
			return fmt.Errorf("distgen serve in node %s did not start listening on %s:\n%s", node, DevRegistry, out.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// mirroredHost is the registry host of an image as containerd names it
// (its hosts.toml directory), and the path under the host of registry
// (HOST[/PREFIX]) where a mirror put that host's images.
func mirroredHost(registry, ref string) (host, path string, err error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", "", err
	}
	host = r.Context().RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io" // containerd's name for Docker Hub
	}
	to, err := mirror.Relocated(registry, ref)
	if err != nil {
		return "", "", err
	}
	regHost, prefix, _ := strings.Cut(registry, "/")
	if prefix != "" {
		prefix += "/"
	}
	rest, ok := strings.CutPrefix(to, regHost+"/"+prefix+"images/")
	dir, _, _ := strings.Cut(rest, "/")
	if !ok || dir == "" {
		return "", "", fmt.Errorf("image %s: mirrored at %s, not under images/", ref, to)
	}
	return host, prefix + "images/" + dir, nil
}

// registryHosts is containerd's hosts.toml for host: the cluster's
// registry itself (mirror empty), or the cluster's registry as the mirror
// of host, at mirror (HOST/v2/PATH, the images' /v2/ path under it:
// override_path). The cluster's registry is reached over HTTP when plain,
// and its certificate checked against the CA file ca (a path in the node)
// when given.
func registryHosts(host, mirror string, plain bool, ca string) string {
	scheme := "https://"
	if plain {
		scheme = "http://"
	}
	server, at := scheme+host, scheme+mirror
	if mirror == "" {
		at = server
	} else {
		server = "https://" + host
		if host == "docker.io" {
			server = "https://registry-1.docker.io"
		}
	}
	out := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", server, at)
	if mirror != "" {
		out += "  override_path = true\n"
	}
	if ca != "" {
		out += fmt.Sprintf("  ca = %q\n", ca)
	}
	return out
}

// registryCA reads RegistryCA: PEM certificates, only with Registry over
// TLS.
func (u *DevUp) registryCA() ([]byte, error) {
	if u.RegistryCA == "" {
		return nil, nil
	}
	if u.Registry == "" || u.PlainHTTP {
		return nil, &UsageError{Msg: "--registry-ca is the CA of the registry --registry names, over TLS (not --plain-http)"}
	}
	b, err := os.ReadFile(u.RegistryCA)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--registry-ca: %v", err)}
	}
	rest, n := b, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, &UsageError{Msg: fmt.Sprintf("--registry-ca %s: a %s block; want certificates only", u.RegistryCA, block.Type)}
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("--registry-ca %s: certificate %d: %v", u.RegistryCA, n+1, err)}
		}
		n++
	}
	if n == 0 {
		return nil, &UsageError{Msg: fmt.Sprintf("--registry-ca %s: no PEM certificate in it", u.RegistryCA)}
	}
	return b, nil
}

// registryHosting is the ConfigMap of KEP-1755 (kube-public/
// local-registry-hosting) that tells tools where a cluster's registry is:
// as this machine reaches it and as the node and pods do. Only the host
// part goes there; a prefix is the user's to add.
func registryHosting(registry, cluster string) ([]byte, error) {
	host, _, _ := strings.Cut(registry, "/")
	inCluster, _, _ := strings.Cut(cluster, "/")
	v1, err := yaml.Marshal(map[string]string{
		"host":                     host,
		"hostFromContainerRuntime": inCluster,
		"hostFromClusterNetwork":   inCluster,
		"help":                     "distgen dev up --registry: the release is under " + cluster,
	})
	if err != nil {
		return nil, err
	}
	return flux.MarshalAll(&corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "local-registry-hosting", Namespace: "kube-public"},
		Data:       map[string]string{"localRegistryHosting.v1": string(v1)},
	})
}

// registries are where dev up puts the release, as a location this
// machine writes (the layout the node serves, or the user's registry),
// and HOST[/PREFIX] the node reaches the same content at.
func (u *DevUp) registries(layout string) (target, cluster string, err error) {
	if u.Registry == "" {
		if u.ClusterRegistry != "" {
			return "", "", &UsageError{Msg: "--cluster-registry names how the node reaches --registry: give --registry too"}
		}
		return publish.SchemeLayout + layout, DevRegistry, nil
	}
	reg := strings.TrimSuffix(u.Registry, "/")
	if _, err := name.NewRepository(reg+"/bundles/x", name.StrictValidation); err != nil {
		return "", "", &UsageError{Msg: fmt.Sprintf("--registry %q: want HOST[:PORT][/PREFIX]: %v", u.Registry, err)}
	}
	host, prefix, _ := strings.Cut(reg, "/")
	if u.ClusterRegistry != "" {
		r, err := name.NewRegistry(u.ClusterRegistry, name.StrictValidation)
		if err != nil || r.RegistryStr() != u.ClusterRegistry {
			return "", "", &UsageError{Msg: fmt.Sprintf("--cluster-registry %q: want HOST[:PORT]", u.ClusterRegistry)}
		}
		host = u.ClusterRegistry
	}
	cluster = host
	if prefix != "" {
		cluster += "/" + prefix
	}
	return publish.SchemeRegistry + reg, cluster, nil
}

// fluxImages picks each Flux controller's image from the release's
// platform images, relocated under the registry relocateTo (HOST[/PREFIX])
// when it is set.
func fluxImages(platform []string, relocateTo string) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range platform {
		repo := mirror.RepositoryOf(ref)
		for _, c := range flux.Controllers {
			if strings.HasSuffix(repo, "/"+c) {
				out[c] = ref
				if relocateTo != "" {
					r, err := mirror.RelocatedRef(relocateTo, ref)
					if err != nil {
						return nil, err
					}
					out[c] = r
				}
			}
		}
	}
	for _, c := range flux.Controllers {
		if out[c] == "" {
			return nil, &UsageError{Msg: fmt.Sprintf("the bundle's images name no %s: versions.cue's platform images pin Flux's controllers", c)}
		}
	}
	return out, nil
}

func writeDevState(dir string, st *DevState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, devStateFile), append(b, '\n'))
}

// DevDown removes what dev up made for a cluster name, and nothing else.
type DevDown struct {
	Name     string
	Logger   log.Logger
	StateDir string
}

// Run removes the cluster and its state; it returns the state removed.
func (d *DevDown) Run(ctx context.Context) (*DevState, error) {
	dir := d.StateDir
	if dir == "" {
		var err error
		if dir, err = DevStateDir(d.Name); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, devStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &UsageError{Msg: fmt.Sprintf("distgen dev up made no cluster %q (no %s): nothing to remove", d.Name, filepath.Join(dir, devStateFile))}
	}
	if err != nil {
		return nil, err
	}
	var st DevState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, devStateFile), err)
	}
	if err := kindProvider(d.Logger).Delete(st.Cluster, st.Kubeconfig); err != nil {
		return nil, fmt.Errorf("deleting kind cluster %q: %w", st.Cluster, err)
	}
	return &st, os.RemoveAll(dir)
}
