package tests

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/upstream"
	"github.com/distgen/distgen/tests/fixture"
)

// registryServer starts an in-process registry the test can stop.
func registryServer(t *testing.T, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(nopLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func hostOf(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

// mirrorFixture builds the demo bundle with two images that share layers
// (one set through values, one declared in CUE), pushes the images to an
// image registry and the release to an origin registry.
func mirrorFixture(t *testing.T) (origin, images *httptest.Server, digests map[string]string, unique int64) {
	t.Helper()
	images = registryServer(t, nil)
	base, err := random.Image(256<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := random.Layer(128<<10, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := mutate.AppendLayers(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	shipper := hostOf(images) + "/library/fluent-bit:3.2.4"
	exporter := hostOf(images) + "/library/exporter:1.0"
	platform := hostOf(images) + "/fluxcd/source-controller:v1.7.3"
	agent, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[v1.Hash]int64{}
	for ref, img := range map[string]v1.Image{shipper: base, exporter: derived, platform: agent} {
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
		collectBlobs(t, img, blobs)
	}

	root := fixture.Offline(t, repoRoot, platform)
	demo := filepath.Join(root, "bundles", "demo.cue")
	b, _ := os.ReadFile(demo)
	s := strings.Replace(string(b), "\t\t\twait: false\n", fmt.Sprintf("\t\t\twait: false\n\t\t\tvalues: image: {repository: %q, tag: \"3.2.4\"}\n", hostOf(images)+"/library/fluent-bit"), 1)
	s = strings.Replace(s, `values: retention: "14d"`, fmt.Sprintf("values: retention: \"14d\"\n\t\t\timages: [%q]", exporter), 1)
	if err := os.WriteFile(demo, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	// The release pins its images by digest (repo:tag@digest): the mirror
	// copies them by digest and keeps their tags, which the pods pull by.
	if _, err := (&action.Images{Project: action.Project{Dir: root, Bundle: "demo"}, Resolve: true, Lock: true, PlainHTTP: true}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, res := build(t, root, "demo")
	if bd, _ := base.Digest(); !slices.Contains(res.Release.Images, shipper+"@"+bd.String()) {
		t.Fatalf("release images %v", res.Release.Images)
	}
	origin = registryServer(t, nil)
	if _, err := push(t, out, "oci://"+hostOf(origin)+"/distgen"); err != nil {
		t.Fatal(err)
	}
	digests = map[string]string{"bundles/demo:0.1.0": res.Release.Artifact.Digest}
	for _, c := range res.Release.Components {
		digests[c.Chart.Repository+":"+c.Chart.Tag] = c.Chart.Digest
		ref, _ := name.ParseReference(hostOf(origin) + "/distgen/" + c.Chart.Repository + ":" + c.Chart.Tag)
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		collectBlobs(t, img, blobs)
	}
	ref, _ := name.ParseReference(hostOf(origin) + "/distgen/bundles/demo:0.1.0")
	bundle, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	collectBlobs(t, bundle, blobs)
	imgRepo := "images/" + strings.ReplaceAll(hostOf(images), ":", "-") + "/library/"
	bd, _ := base.Digest()
	dd, _ := derived.Digest()
	digests[imgRepo+"fluent-bit:3.2.4"] = bd.String()
	digests[imgRepo+"exporter:1.0"] = dd.String()
	ad, _ := agent.Digest()
	digests["images/"+strings.ReplaceAll(hostOf(images), ":", "-")+"/fluxcd/source-controller:v1.7.3"] = ad.String()
	for _, n := range blobs {
		unique += n
	}
	return origin, images, digests, unique
}

func collectBlobs(t *testing.T, img v1.Image, into map[v1.Hash]int64) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	into[m.Config.Digest] = m.Config.Size
	for _, l := range m.Layers {
		into[l.Digest] = l.Size
	}
}

// checkRelease asserts a registry holds every artifact at its digest.
func checkRelease(t *testing.T, host, prefix string, digests map[string]string) {
	t.Helper()
	for ref, want := range digests {
		r, _ := name.ParseReference(host + "/" + prefix + "/" + ref)
		desc, err := remote.Head(r)
		if err != nil {
			t.Errorf("%s: %v", r, err)
			continue
		}
		if desc.Digest.String() != want {
			t.Errorf("%s is %s, want %s", r, desc.Digest, want)
		}
	}
}

func TestMirror(t *testing.T) {
	origin, images, digests, unique := mirrorFixture(t)
	from := "oci://" + hostOf(origin) + "/distgen/bundles/demo:0.1.0"

	// Registry to registry: every artifact by digest, shared blobs once.
	site := registryServer(t, nil)
	m := &action.Mirror{From: from, To: "oci://" + hostOf(site) + "/site", PlainHTTP: true}
	first, err := m.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkRelease(t, hostOf(site), "site", digests)
	if first.Bytes != unique {
		t.Errorf("mirror wrote %d blob bytes; the release has %d unique blob bytes", first.Bytes, unique)
	}
	if got := first.Artifacts[len(first.Artifacts)-1].Ref; got != hostOf(site)+"/site/bundles/demo:0.1.0" {
		t.Errorf("last artifact written: %s", got)
	}
	again, err := m.Run(context.Background())
	if err != nil || again.Bytes != 0 {
		t.Errorf("second mirror: %d bytes, %v", again.Bytes, err)
	}
	t.Logf("registry to registry: %d artifacts, %d bytes (unique %d); rerun %d bytes", len(first.Artifacts), first.Bytes, unique, again.Bytes)

	// A bootstrap for the mirror points every release's images at it.
	boot, err := (&action.Bootstrap{From: "oci://" + hostOf(site) + "/site/bundles/demo:0.1.0", PlainHTTP: true, RelocateImages: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(strings.TrimPrefix(string(boot), "---\n"), "---\n")
	var ks kustomizev1.Kustomization
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &ks); err != nil {
		t.Fatal(err)
	}
	relocated := map[string]string{}
	for _, p := range ks.Spec.Patches {
		if p.Target.Kind != "HelmRelease" {
			continue
		}
		var ops []struct {
			Value []helmv2.PostRenderer `json:"value"`
		}
		if err := json.Unmarshal([]byte(p.Patch), &ops); err != nil {
			t.Fatal(err)
		}
		for _, img := range ops[0].Value[0].Kustomize.Images {
			relocated[p.Target.Namespace+"/"+p.Target.Name+" "+img.Name] = img.NewName
		}
	}
	imgRepo := hostOf(site) + "/site/images/" + strings.ReplaceAll(hostOf(images), ":", "-") + "/library/"
	want := map[string]string{
		"dg-monitoring/log-shipper " + hostOf(images) + "/library/fluent-bit":     imgRepo + "fluent-bit",
		"dg-monitoring/monitoring-config " + hostOf(images) + "/library/exporter": imgRepo + "exporter",
	}
	if fmt.Sprint(relocated) != fmt.Sprint(want) {
		t.Errorf("relocations %v\nwant %v", relocated, want)
	}

	// Registry to archive; then, with the origin and the image registry
	// gone, archive to a new registry.
	archive := filepath.Join(t.TempDir(), "demo-0.1.0.tar")
	if _, err := (&action.Mirror{From: from, To: archive, PlainHTTP: true}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if names := tarNames(t, archive); len(names) < 3 || names[0] != "oci-layout" || names[1] != "index.json" {
		t.Errorf("archive entries start %v, want oci-layout, index.json", names[:min(3, len(names))])
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("archive mode %v (%v), want 0644: the site reads it", fi.Mode().Perm(), err)
	}
	origin.Close()
	images.Close()

	// The archive served as it is: every artifact at its digest.
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- (&action.Serve{Dir: archive, Addr: "127.0.0.1:0", Prefix: "laptop", OnReady: func(addr string, _ []string) { ready <- addr }}).Run(ctx)
	}()
	select {
	case addr := <-ready:
		checkRelease(t, addr, "laptop", digests)
	case err := <-done:
		t.Fatalf("serving the archive: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	empty := registryServer(t, nil)
	loaded, err := (&action.Mirror{From: archive, To: "oci://" + hostOf(empty) + "/airgap", PlainHTTP: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkRelease(t, hostOf(empty), "airgap", digests)
	t.Logf("archive to registry: %d artifacts, %d bytes", len(loaded.Artifacts), loaded.Bytes)
}

func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// A mirror that stops half-way resumes: the rerun completes and copies
// only what the first run did not.
func TestMirrorResumes(t *testing.T) {
	origin, _, digests, unique := mirrorFixture(t)
	var uploads atomic.Int32
	var broken atomic.Bool
	site := registryServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if broken.Load() && r.URL.Path != "/v2/" {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && uploads.Add(1) == 6 {
				broken.Store(true) // the site's registry goes away mid-mirror
			}
		})
	})
	m := &action.Mirror{
		From: "oci://" + hostOf(origin) + "/distgen/bundles/demo:0.1.0", To: "oci://" + hostOf(site) + "/site", PlainHTTP: true, Jobs: 1,
		Options: []publish.Option{publish.WithBackoff(remote.Backoff{Duration: 1, Factor: 1, Steps: 2})},
	}
	if _, err := m.Run(context.Background()); err == nil {
		t.Fatal("the mirror survived its destination going away")
	}
	ref, _ := name.ParseReference(hostOf(site) + "/site/bundles/demo:0.1.0")
	broken.Store(false)
	if _, err := remote.Head(ref); err == nil {
		t.Error("an interrupted mirror tagged the bundle")
	}
	rerun, err := m.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkRelease(t, hostOf(site), "site", digests)
	if rerun.Bytes == 0 || rerun.Bytes >= unique {
		t.Errorf("rerun wrote %d bytes of %d unique: it should copy only what was missing", rerun.Bytes, unique)
	}
	t.Logf("resumed mirror wrote %d of %d unique blob bytes", rerun.Bytes, unique)
}

// Tags resolve to the digests their registry serves; an image whose
// registry cannot be reached keeps its tag.
func TestImagesResolve(t *testing.T) {
	images := registryServer(t, nil)
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := hostOf(images) + "/library/fluent-bit:3.2.4"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	unreachable := "127.0.0.1:1/fluxcd/source-controller:v1.7.3"
	root := fixture.Offline(t, repoRoot, unreachable)
	demo := filepath.Join(root, "bundles", "demo.cue")
	b, _ := os.ReadFile(demo)
	s := strings.Replace(string(b), "\t\t\twait: false\n", fmt.Sprintf("\t\t\twait: false\n\t\t\tvalues: image: {repository: %q, tag: \"3.2.4\"}\n", hostOf(images)+"/library/fluent-bit"), 1)
	if err := os.WriteFile(demo, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := (&action.Images{Project: action.Project{Dir: root, Bundle: "demo"}, Resolve: true, PlainHTTP: true, Log: &log}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	want := []string{unreachable, ref + "@" + d.String()}
	if fmt.Sprint(res.Images) != fmt.Sprint(want) {
		t.Errorf("resolved %v, want %v", res.Images, want)
	}
	if len(res.Components) != 1 || res.Components[0].Images[0] != want[1] {
		t.Errorf("components %+v", res.Components)
	}
	if !strings.Contains(log.String(), unreachable+": not resolved") {
		t.Errorf("no warning for the unreachable image: %q", log.String())
	}
	if _, err := os.Stat(filepath.Join(root, "versions.lock.json")); err == nil {
		t.Error("images --resolve without --lock wrote the lock")
	}

	// Locked, the digest is in every build's inventory; what did not
	// resolve keeps its tag.
	if _, err := (&action.Images{Project: action.Project{Dir: root, Bundle: "demo"}, Resolve: true, Lock: true, PlainHTTP: true}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	lock, err := upstream.ReadLock(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Images) != 1 || lock.Images[0] != (upstream.LockedImage{Ref: ref, Digest: d.String()}) {
		t.Errorf("locked images %+v", lock.Images)
	}
	images.Close() // a build needs no registry
	_, built := build(t, root, "demo")
	if fmt.Sprint(built.Release.Images) != fmt.Sprint(want) || fmt.Sprint(built.Release.PlatformImages) != fmt.Sprint([]string{unreachable}) {
		t.Errorf("release images %v, platform %v; want %v", built.Release.Images, built.Release.PlatformImages, want)
	}
	for _, c := range built.Release.Components {
		if c.Name == "log-shipper" && fmt.Sprint(c.Images) != fmt.Sprint(want[1:]) {
			t.Errorf("log-shipper images %v, want %v", c.Images, want[1:])
		}
	}
}

// distgenBinary builds the CLI once per test run, for tests that need a
// process of its own (to kill it).
var distgenBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "distgen-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "distgen")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/distgen").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// mirrorKilled runs distgen mirror and kills it with SIGKILL once it has
// reported copying after artifacts: an interruption the process cannot
// clean up after.
func mirrorKilled(t *testing.T, after int, args ...string) {
	t.Helper()
	bin, err := distgenBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"mirror", "--plain-http", "--jobs", "1"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	copied := 0
	for copied < after && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "copied ") {
			copied++
		}
	}
	_ = cmd.Process.Kill()
	go io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if copied < after {
		t.Fatalf("the mirror ended (%v) after copying %d artifacts, before it could be killed", err, copied)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the mirror was not killed: %v", err)
	}
}

// mirrorRun runs distgen mirror to completion and returns its result.
func mirrorRun(t *testing.T, args ...string) action.MirrorResult {
	t.Helper()
	bin, err := distgenBinary()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command(bin, append([]string{"mirror", "--plain-http", "-o", "json"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("distgen mirror %v: %v\n%s", args, err, stderr.String())
	}
	var res action.MirrorResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// A mirror killed half-way, to a registry and to an archive, completes
// when rerun, copies only what was missing, and leaves every artifact
// whole: each blob hashes to its digest.
func TestMirrorKilled(t *testing.T) {
	origin, _, digests, unique := mirrorFixture(t)
	from := "oci://" + hostOf(origin) + "/distgen/bundles/demo:0.1.0"

	// With one job the order is fixed: the eight charts, then the images
	// (two sharing most of the release's bytes, then a small one), then
	// the bundle. Killed after ten, the rerun has the small image, the
	// bundle and whatever was in flight left: well under half the bytes.
	site := registryServer(t, nil)
	to := "oci://" + hostOf(site) + "/site"
	mirrorKilled(t, 10, "--from", from, "--to", to)
	ref, _ := name.ParseReference(hostOf(site) + "/site/bundles/demo:0.1.0")
	if _, err := remote.Head(ref); err == nil {
		t.Error("a killed mirror tagged the bundle")
	}
	rerun := mirrorRun(t, "--from", from, "--to", to)
	checkRelease(t, hostOf(site), "site", digests)
	for r := range digests {
		ref, _ := name.ParseReference(hostOf(site) + "/site/" + r)
		img, err := remote.Image(ref)
		if err == nil {
			err = validate.Image(img)
		}
		if err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	if rerun.Bytes == 0 || rerun.Bytes > unique/2 {
		t.Errorf("registry: the rerun wrote %d bytes of %d unique: it should copy only what was missing", rerun.Bytes, unique)
	}
	t.Logf("registry: the rerun after a kill wrote %d of %d unique blob bytes", rerun.Bytes, unique)

	archive := filepath.Join(t.TempDir(), "demo-0.1.0.tar")
	mirrorKilled(t, 10, "--from", from, "--to", archive)
	if _, err := os.Stat(archive); err == nil {
		t.Error("a killed mirror wrote the archive")
	}
	// Damage what the killed run staged, as a kill during a write can.
	staged, _ := filepath.Glob(filepath.Join(archive+".partial", "blobs", "sha256", "*"))
	if len(staged) == 0 {
		t.Fatal("the killed mirror staged nothing to resume from")
	}
	// The smallest: the images' layers are random, so which blob sorts
	// first is not fixed, and rewriting a large one would pass the bound
	// on what the rerun copies.
	sort.Slice(staged, func(i, j int) bool { return fileSize(staged[i]) < fileSize(staged[j]) })
	if err := os.WriteFile(staged[0], []byte("half a blob"), 0o644); err != nil {
		t.Fatal(err)
	}
	rerun = mirrorRun(t, "--from", from, "--to", archive)
	if rerun.Bytes == 0 || rerun.Bytes > unique/2 {
		t.Errorf("archive: the rerun wrote %d bytes of %d unique: it should copy only what was missing", rerun.Bytes, unique)
	}
	if _, err := os.Stat(archive + ".partial"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the staging directory outlived a complete mirror: %v", err)
	}
	t.Logf("archive: the rerun after a kill wrote %d of %d unique blob bytes", rerun.Bytes, unique)
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("the archive after a killed mirror: %v", err)
	}
	m, _ := idx.IndexManifest()
	if len(m.Manifests) != len(digests) {
		t.Errorf("the archive holds %d artifacts, want %d", len(m.Manifests), len(digests))
	}
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// A blob changed inside a layout or an archive is not mirrored: the copy
// to a layout or an archive fails naming the blob and both digests, and
// the destination holds no tag for the release.
func TestMirrorRefusesDamagedBlob(t *testing.T) {
	origin, _, _, _ := mirrorFixture(t)
	whole := filepath.Join(t.TempDir(), "whole.tar")
	mirrorRun(t, "--from", "oci://"+hostOf(origin)+"/distgen/bundles/demo:0.1.0", "--to", whole)
	src := t.TempDir()
	if out, err := exec.Command("tar", "-xf", whole, "-C", src).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	img := chartImage(t, src, "charts/platform-rbac:0.1.0")
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	path := filepath.Join(src, "blobs", "sha256", ld.Hex)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "damaged.tar")
	if out, err := exec.Command("tar", "-cf", archive, "-C", src, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	site := registryServer(t, nil)
	for _, from := range []string{"oci-layout:" + src, archive} {
		for _, to := range []string{"oci-layout:" + t.TempDir(), filepath.Join(t.TempDir(), "copy.tar"), "oci://" + hostOf(site) + "/site"} {
			m := &action.Mirror{From: from, Bundle: "demo:0.1.0", To: to, Jobs: 1, PlainHTTP: true}
			_, err := m.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), ld.String()) || !strings.Contains(err.Error(), " digest sha256:") {
				t.Errorf("mirror %s -> %s: %v, want the damaged blob named with both digests", from, to, err)
			}
			if strings.HasSuffix(to, ".tar") {
				if _, err := os.Stat(to); err == nil {
					t.Errorf("mirror %s -> %s wrote the archive", from, to)
				}
				continue
			}
			if strings.HasPrefix(to, "oci://") {
				if ref, _ := name.ParseReference(hostOf(site) + "/site/bundles/demo:0.1.0"); ref != nil {
					if _, err := remote.Head(ref); err == nil {
						t.Errorf("mirror %s -> %s tagged the bundle", from, to)
					}
				}
				continue
			}
			dst := strings.TrimPrefix(to, "oci-layout:")
			if idx, err := os.ReadFile(filepath.Join(dst, "index.json")); err == nil && strings.Contains(string(idx), "bundles/demo") {
				t.Errorf("mirror %s -> %s tagged the bundle", from, to)
			}
		}
	}
}

// An archive is not trusted either: a sparse entry (a few KB that unpack
// to a GiB), a link and a path out of the archive are refused before
// anything large is written.
func TestMirrorRefusesHostileArchive(t *testing.T) {
	work := t.TempDir()
	big := filepath.Join(work, "blobs", "sha256", strings.Repeat("0", 64))
	if err := os.MkdirAll(filepath.Dir(big), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil { // a hole: no disk used
		t.Fatal(err)
	}
	f.Close()
	sparse := filepath.Join(t.TempDir(), "sparse.tar")
	if out, err := exec.Command("tar", "--sparse", "--format=pax", "-cf", sparse, "-C", work, "index.json", "blobs").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if info, _ := os.Stat(sparse); info.Size() > 1<<20 {
		t.Fatalf("the sparse archive has %d bytes; GNU tar did not write a sparse entry", info.Size())
	}
	linked := filepath.Join(t.TempDir(), "link.tar")
	if err := os.Symlink("/etc/passwd", filepath.Join(work, "oci-layout")); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-cf", linked, "-C", work, "index.json", "oci-layout").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	for archive, want := range map[string]string{sparse: "sparse entry: refused", linked: "not a plain file"} {
		before := diskUsage(t, os.TempDir())
		_, err := (&action.Mirror{From: archive, Bundle: "demo:0.1.0", To: "oci-layout:" + t.TempDir()}).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mirror from %s: %v, want %q", filepath.Base(archive), err, want)
		}
		if grew := diskUsage(t, os.TempDir()) - before; grew > 64<<20 {
			t.Errorf("reading %s wrote %d bytes", filepath.Base(archive), grew)
		}
	}
}

// diskUsage is the bytes the file system under dir has in use.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// A mirror into a layout interrupted at any of its write points (a fault
// hook in the layout writer, not timing) leaves every tag the layout names
// whole; rerun, it completes the release, and a third run copies nothing.
func TestMirrorInterruptedAtEveryWritePoint(t *testing.T) {
	origin, _, digests, _ := mirrorFixture(t)
	from := "oci://" + hostOf(origin) + "/distgen/bundles/demo:0.1.0"
	ctx := context.Background()
	points := 0
	count := publish.WithFault(func(string) error { points++; return nil })
	if _, err := (&action.Mirror{From: from, To: "oci-layout:" + t.TempDir(), PlainHTTP: true, Jobs: 1, Layout: []publish.LayoutOption{count}}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	killed := errors.New("killed")
	for k := 0; k < points; k++ {
		dir := t.TempDir()
		n := 0
		fault := publish.WithFault(func(string) error {
			if n++; n > k {
				return killed
			}
			return nil
		})
		_, err := (&action.Mirror{From: from, To: "oci-layout:" + dir, PlainHTTP: true, Jobs: 1, Layout: []publish.LayoutOption{fault}}).Run(ctx)
		if !errors.Is(err, killed) {
			t.Fatalf("point %d: the mirror was not interrupted: %v", k, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
			p, err := layout.FromPath(dir)
			if err != nil {
				t.Fatalf("point %d: %v", k, err)
			}
			idx, _ := p.ImageIndex()
			m, err := idx.IndexManifest()
			if err != nil {
				t.Fatalf("point %d: index.json: %v", k, err)
			}
			for _, d := range m.Manifests {
				img, err := p.Image(d.Digest)
				if err == nil {
					err = validate.Image(img)
				}
				if err != nil {
					t.Errorf("point %d: %s is named but not whole: %v", k, d.Annotations[publish.AnnotationRefName], err)
				}
			}
		}
		if _, err := (&action.Mirror{From: from, To: "oci-layout:" + dir, PlainHTTP: true}).Run(ctx); err != nil {
			t.Fatalf("point %d: rerun: %v", k, err)
		}
		again, err := (&action.Mirror{From: from, To: "oci-layout:" + dir, PlainHTTP: true}).Run(ctx)
		if err != nil || again.Bytes != 0 {
			t.Errorf("point %d: third run copied %d bytes (%v)", k, again.Bytes, err)
		}
		p, _ := layout.FromPath(dir)
		idx, _ := p.ImageIndex()
		m, _ := idx.IndexManifest()
		have := map[string]string{}
		for _, d := range m.Manifests {
			have[d.Annotations[publish.AnnotationRefName]] = d.Digest.String()
		}
		for ref, d := range digests {
			if have[ref] != d {
				t.Errorf("point %d: after the rerun %s is %q, want %s", k, ref, have[ref], d)
			}
		}
	}
	t.Logf("a mirror of %d write points interrupted at each", points)
}
