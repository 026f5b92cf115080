package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	"sigs.k8s.io/kind/pkg/log"

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
	// RelocateImages mirrors the release's images (and Flux's) into the
	// node's registry and makes every release pull them from there.
	RelocateImages bool
	// ImagesFrom is where images are read from (a location a mirror
	// filled), to mirror them into the node's registry. Without
	// RelocateImages the manifests keep the images' names, and the node's
	// containerd pulls them from its registry as a mirror of theirs.
	ImagesFrom string
	// PlainHTTP reads ImagesFrom over HTTP (a loopback registry).
	PlainHTTP bool
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
	buildDir, pushDir, regDir := filepath.Join(dir, "build"), filepath.Join(dir, "push"), filepath.Join(dir, "registry")
	b := &Build{Project: u.Project, Out: buildDir, Cache: cache, AllowUnbumped: true}
	built, err := b.Run(ctx)
	if err != nil {
		return nil, err
	}
	rel := built.Release
	u.say("pushing %s:%s to the cluster's registry", rel.Bundle, rel.Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st := &DevState{Cluster: u.Name, NodeImage: u.NodeImage, Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Registry: DevRegistry, Bundle: rel.Bundle, Version: rel.Version}
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
	m := &Mirror{From: publish.SchemeLayout + pushDir, Bundle: rel.Bundle + ":" + rel.Version, To: publish.SchemeLayout + regDir,
		SkipImages: !withImages, ImagesFrom: u.ImagesFrom, PlainHTTP: u.PlainHTTP}
	if _, err := m.Run(ctx); err != nil {
		return nil, err
	}

	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Nodes: []v1alpha4.Node{{
			Role: v1alpha4.ControlPlaneRole,
			ExtraMounts: []v1alpha4.Mount{
				{HostPath: regDir, ContainerPath: devNodeRegistry, Readonly: true},
				{HostPath: binary, ContainerPath: devNodeBinary, Readonly: true},
			},
		}},
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

	// The node's registry is plain HTTP on its loopback address; with
	// images mirrored there and not relocated, it is also the mirror of
	// each registry the images come from.
	hosts := map[string]string{DevRegistry: registryHosts(DevRegistry, "")}
	if withImages && !u.RelocateImages {
		for _, ref := range rel.Images {
			host, path, err := mirroredHost(ref)
			if err != nil {
				return nil, err
			}
			hosts[host] = registryHosts(host, path)
		}
	}
	for host, toml := range hosts {
		if err := nodeutils.WriteFile(node, devNodeHosts+"/"+host+"/hosts.toml", toml); err != nil {
			return nil, fmt.Errorf("configuring containerd in node %s for %s: %w", node, host, err)
		}
	}
	u.say("serving the release from the node at %s", DevRegistry)
	if err := serveInNode(ctx, node); err != nil {
		return nil, err
	}

	kube, err := newKubeClient(st.Kubeconfig)
	if err != nil {
		return nil, err
	}
	u.say("installing Flux")
	images, err := fluxImages(rel.PlatformImages, u.RelocateImages)
	if err != nil {
		return nil, err
	}
	crds, err := fluxCRDs(ctx, images)
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
	install, err := flux.InstallObjects(flux.Install{Images: images, SourceHostNetwork: true})
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
		From:    publish.SchemeRegistry + DevRegistry + "/bundles/" + rel.Bundle + ":" + rel.Version,
		Release: buildDir, PlainHTTP: true, Interval: time.Minute,
		RelocateImages: u.RelocateImages, inventoryFrom: publish.SchemeLayout + regDir,
	}
	objs, err := bs.Run(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := kube.apply(ctx, objs); err != nil {
		return nil, fmt.Errorf("bootstrap objects: %w", err)
	}
	u.say("waiting for %d HelmReleases", len(rel.Components))
	var want []DevRelease
	for _, c := range rel.Components {
		want = append(want, DevRelease{Namespace: c.Namespace, Name: c.Name})
	}
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
// (its hosts.toml directory), and the path under the node's registry where
// a mirror put that host's images.
func mirroredHost(ref string) (host, path string, err error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", "", err
	}
	host = r.Context().RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io" // containerd's name for Docker Hub
	}
	to, err := mirror.Relocated(DevRegistry, ref)
	if err != nil {
		return "", "", err
	}
	rest, ok := strings.CutPrefix(to, DevRegistry+"/images/")
	dir, _, _ := strings.Cut(rest, "/")
	if !ok || dir == "" {
		return "", "", fmt.Errorf("image %s: mirrored at %s, not under images/", ref, to)
	}
	return host, "images/" + dir, nil
}

// registryHosts is containerd's hosts.toml for host: the node's registry
// itself (path empty), or the node's registry as the mirror of host, its
// images under path (override_path: the mirror's own /v2/ path is given).
func registryHosts(host, path string) string {
	if path == "" {
		return fmt.Sprintf("server = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", host, host)
	}
	server := "https://" + host
	if host == "docker.io" {
		server = "https://registry-1.docker.io"
	}
	return fmt.Sprintf("server = %q\n\n[host.\"http://%s/v2/%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n", server, DevRegistry, path)
}

// fluxImages picks each Flux controller's image from the release's
// platform images, relocated to the node's registry when asked.
func fluxImages(platform []string, relocate bool) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range platform {
		repo := mirror.RepositoryOf(ref)
		for _, c := range flux.Controllers {
			if strings.HasSuffix(repo, "/"+c) {
				out[c] = ref
				if relocate {
					r, err := mirror.RelocatedRef(DevRegistry, ref)
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
