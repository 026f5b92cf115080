package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/tests/fixture"
)

// recorder wraps a registry and records the manifests written, in order.
type recorder struct {
	next      http.Handler
	mu        sync.Mutex
	manifests []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
		r.mu.Lock()
		r.manifests = append(r.manifests, strings.TrimPrefix(req.URL.Path, "/v2/"))
		r.mu.Unlock()
	}
	r.next.ServeHTTP(w, req)
}

// newRegistry starts an in-process registry behind handler wrappers and
// returns its HOST:PORT.
func newRegistry(t *testing.T, wrap func(http.Handler) http.Handler) (host string) {
	t.Helper()
	return hostOf(registryServer(t, wrap))
}

func push(t *testing.T, dir, to string, opts ...publish.Option) (*action.PushResult, error) {
	t.Helper()
	p := &action.Push{From: dir, To: to, PlainHTTP: strings.HasPrefix(to, "oci://"), Options: opts}
	return p.Run(context.Background())
}

// A push stores exactly the digests build computed (the registry reports
// them back), writes the bundle last, uploads nothing for an unchanged
// release and only the changed chart and the bundle after one change.
func TestPushRegistry(t *testing.T) {
	root := copyProject(t, repoRoot)
	out, res := build(t, root, "demo")
	rec := &recorder{}
	host := newRegistry(t, func(h http.Handler) http.Handler { rec.next = h; return rec })
	to := "oci://" + host + "/distgen"

	first, err := push(t, out, to)
	if err != nil {
		t.Fatal(err)
	}
	if first.Bytes == 0 || len(first.Artifacts) != len(res.Release.Components)+1 {
		t.Fatalf("first push: %d artifacts, %d bytes", len(first.Artifacts), first.Bytes)
	}
	// The bundle is written last, and every digest is the one build computed.
	if last := rec.manifests[len(rec.manifests)-1]; last != "distgen/bundles/demo/manifests/0.1.0" {
		t.Errorf("last manifest written: %s", last)
	}
	for i, c := range res.Release.Components {
		if got := first.Artifacts[i].Digest; got != c.Chart.Digest {
			t.Errorf("%s pushed as %s, built as %s", c.Name, got, c.Chart.Digest)
		}
		ref, _ := name.ParseReference(host + "/distgen/" + c.Chart.Repository + ":" + c.Chart.Tag)
		desc, err := remote.Head(ref)
		if err != nil || desc.Digest.String() != c.Chart.Digest {
			t.Errorf("registry has %v (%v) for %s", desc, err, ref)
		}
	}
	if got := first.Artifacts[len(first.Artifacts)-1].Digest; got != res.Release.Artifact.Digest {
		t.Errorf("bundle pushed as %s, built as %s", got, res.Release.Artifact.Digest)
	}

	// Nothing changed: nothing uploaded.
	second, err := push(t, out, to)
	if err != nil {
		t.Fatal(err)
	}
	if second.Bytes != 0 {
		t.Errorf("no-op push uploaded %d bytes", second.Bytes)
	}
	for _, a := range second.Artifacts {
		if !a.Skipped {
			t.Errorf("no-op push wrote %s", a.Ref)
		}
	}

	// One chart changes, its version unbumped: the push would move its tag
	// and the bundle's, and fails before writing anything; --force moves them.
	tpl := filepath.Join(root, "packages", "system", "ingress-defaults", "templates", "ingressclass.yaml")
	b, _ := os.ReadFile(tpl)
	if err := os.WriteFile(tpl, append(b, []byte("  ssl-redirect: \"true\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	unbumped, changedRes := build(t, root, "demo")
	rec.mu.Lock()
	before := len(rec.manifests)
	rec.mu.Unlock()
	_, err = push(t, unbumped, to)
	var moved *action.TagMovedError
	if !errors.As(err, &moved) || len(moved.Tags) != 2 {
		t.Fatalf("push of an unbumped change: %v, want the two tags it would move", err)
	}
	for _, want := range []string{
		host + "/distgen/charts/ingress-defaults:0.1.0 points at " + res.Release.Components[componentIndex(t, res.Release, "ingress-defaults")].Chart.Digest,
		"this release has " + changedRes.Release.Components[componentIndex(t, changedRes.Release, "ingress-defaults")].Chart.Digest,
		host + "/distgen/bundles/demo:0.1.0 points at " + res.Release.Artifact.Digest,
		"bump the version, or push with --force",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	rec.mu.Lock()
	if len(rec.manifests) != before {
		t.Errorf("a refused push wrote %v", rec.manifests[before:])
	}
	rec.mu.Unlock()
	forced := &action.Push{From: unbumped, To: to, PlainHTTP: true, Force: true}
	if _, err := forced.Run(context.Background()); err != nil {
		t.Fatalf("push --force: %v", err)
	}
	if d := headDigest(t, host+"/distgen/bundles/demo:0.1.0"); d != changedRes.Release.Artifact.Digest {
		t.Errorf("after --force the bundle tag points at %s, want %s", d, changedRes.Release.Artifact.Digest)
	}

	// Bumped: only the changed chart and the bundle are uploaded.
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `"ingress-defaults": chart:      "0.1.0"`, `"ingress-defaults": chart:      "0.1.1"`)
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `distribution: "0.1.0"`, `distribution: "0.1.1"`)
	out3, _ := build(t, root, "demo")
	third, err := push(t, out3, to)
	if err != nil {
		t.Fatal(err)
	}
	var written []string
	for _, a := range third.Artifacts {
		if !a.Skipped {
			written = append(written, a.Ref)
		}
	}
	want := []string{host + "/distgen/charts/ingress-defaults:0.1.1", host + "/distgen/bundles/demo:0.1.1"}
	if fmt.Sprint(written) != fmt.Sprint(want) {
		t.Errorf("after one chart changed, pushed %v, want %v", written, want)
	}
	t.Logf("demo push: full %d bytes, no-op %d bytes, one chart changed %d bytes", first.Bytes, second.Bytes, third.Bytes)
}

// A push asks the registry for each tag once and authenticates once per
// repository: the tag lookup and the write share the repository's transport,
// and the write does not look the tag up again; a blob the registry lacks
// is sent whole (POST, then one PUT). So a new artifact of two blobs costs
// at most 9 requests: a ping, the tag, three per blob (HEAD, POST, PUT)
// and the manifest.
func TestPushRequests(t *testing.T) {
	out, _ := build(t, repoRoot, "demo")
	var mu sync.Mutex
	reqs := map[string]int{}
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			reqs[req.Method+" "+req.URL.Path]++
			mu.Unlock()
			h.ServeHTTP(w, req)
		})
	})
	res, err := push(t, out, "oci://"+host+"/distgen")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for r, n := range reqs {
		total += n
		if strings.HasPrefix(r, "HEAD ") && strings.Contains(r, "/manifests/") && n != 1 {
			t.Errorf("%s: %d requests, want 1", r, n)
		}
	}
	if pings, n := reqs["GET /v2/"], len(res.Artifacts); pings > n {
		t.Errorf("%d pings for %d repositories", pings, n)
	}
	if n := len(res.Artifacts); total > 9*n {
		t.Errorf("%d requests for %d artifacts, want at most %d", total, n, 9*n)
	}
	t.Logf("%d requests for %d artifacts", total, len(res.Artifacts))
}

// faults fails the first requests of each kind it is told to, then lets
// requests through.
type faults struct {
	next http.Handler
	// only, when set, picks the requests that may fail.
	only     func(*http.Request) bool
	status   atomic.Int32 // requests left to answer with a status
	code     int
	dropped  atomic.Int32 // requests left to drop (connection closed)
	requests atomic.Int32
}

func (f *faults) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f.requests.Add(1)
	if f.only != nil && !f.only(req) {
		f.next.ServeHTTP(w, req)
		return
	}
	if req.URL.Path != "/v2/" && f.dropped.Add(-1) >= 0 {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if req.URL.Path != "/v2/" && f.status.Add(-1) >= 0 {
		w.WriteHeader(f.code)
		return
	}
	f.next.ServeHTTP(w, req)
}

// blobPut picks the requests that send a blob's content.
func blobPut(req *http.Request) bool {
	return req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/")
}

func TestPushRetriesRegistryFaults(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	fast := publish.WithBackoff(remote.Backoff{Duration: 1, Factor: 1, Steps: 6})
	for _, tc := range []struct {
		name            string
		code            int
		status, dropped int32
		only            func(*http.Request) bool
	}{
		{"503", http.StatusServiceUnavailable, 3, 0, nil},
		{"429", http.StatusTooManyRequests, 3, 0, nil},
		{"dropped connections", 0, 0, 3, nil},
		{"503 on blob uploads", http.StatusServiceUnavailable, 4, 0, blobPut},
		{"blob uploads dropped", 0, 0, 4, blobPut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &faults{code: tc.code, only: tc.only}
			f.status.Store(tc.status)
			f.dropped.Store(tc.dropped)
			host := newRegistry(t, func(h http.Handler) http.Handler { f.next = h; return f })
			got, err := push(t, out, "oci://"+host+"/distgen", fast)
			if err != nil {
				t.Fatalf("push through faults: %v", err)
			}
			if got.Artifacts[len(got.Artifacts)-1].Digest != res.Release.Artifact.Digest {
				t.Error("bundle digest differs")
			}
			if f.status.Load() > 0 || f.dropped.Load() > 0 {
				t.Errorf("faults left unused: %d statuses, %d drops", f.status.Load(), f.dropped.Load())
			}
		})
	}
}

func TestPushFailureLeavesNoBundleTag(t *testing.T) {
	out, _ := build(t, repoRoot, "demo")
	refuse := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/charts/tenant-demo/manifests/") {
				http.Error(w, `{"errors":[{"code":"DENIED","message":"quota exceeded"}]}`, http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, req)
		})
	}
	host := newRegistry(t, refuse)
	_, err := push(t, out, "oci://"+host+"/distgen", publish.WithBackoff(remote.Backoff{Duration: 1, Factor: 1, Steps: 2}))
	if err == nil || !strings.Contains(err.Error(), `component "tenant-demo"`) {
		t.Fatalf("push error %v", err)
	}
	ref, _ := name.ParseReference(host + "/distgen/bundles/demo:0.1.0")
	if _, err := remote.Head(ref); err == nil {
		t.Error("the bundle was tagged although a chart it references was not pushed")
	}
}

func TestPushRefusesStaleBuild(t *testing.T) {
	out, _ := build(t, repoRoot, "demo")
	f := filepath.Join(out, "flux", "components", "tenant-demo.yaml")
	b, _ := os.ReadFile(f)
	if err := os.WriteFile(f, append(b, "# edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := push(t, out, "oci-layout:"+t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "does not match its release.json") {
		t.Fatalf("push of an edited build: %v", err)
	}
}

// basicAuth guards a registry with a user and password.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if u, p, ok := req.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, req)
		})
	}
}

// Credentials come from the Docker config (go-containerregistry's keychain)
// and never reach the output.
func TestPushCredentialsFromDockerConfig(t *testing.T) {
	out, _ := build(t, repoRoot, "demo")
	const secret = "s3cret-Pa55word"
	host := newRegistry(t, basicAuth("release", secret))
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("release:" + secret))
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfg)
	var log bytes.Buffer
	p := &action.Push{From: out, To: "oci://" + host + "/distgen", PlainHTTP: true, Log: &log}
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), secret) || strings.Contains(log.String(), auth) || strings.Contains(fmt.Sprint(res), secret) {
		t.Error("credentials printed")
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err = push(t, out, "oci://"+host+"/distgen")
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("push without credentials: %v", err)
	}
}

func TestPushLayout(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, d := range dirs {
		if _, err := push(t, out, "oci-layout:"+d); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := hashes(t, dirs[0]), hashes(t, dirs[1]); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("two layouts of one release differ")
	}
	again, err := push(t, out, "oci-layout:"+dirs[0])
	if err != nil || again.Bytes != 0 {
		t.Errorf("second push into a layout: %d bytes, %v", again.Bytes, err)
	}
	p, err := layout.FromPath(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, _ := idx.IndexManifest()
	refs := map[string]string{}
	for _, d := range m.Manifests {
		refs[d.Annotations[publish.AnnotationRefName]] = d.Digest.String()
	}
	if refs["bundles/demo:0.1.0"] != res.Release.Artifact.Digest || len(refs) != len(res.Release.Components)+1 {
		t.Errorf("layout index %v", refs)
	}
}

// The real helm CLI pulls a pushed chart from the registry and templates it;
// bootstrap pins the bundle digest build printed.
func TestPushedChartsWithHelmAndBootstrap(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	host := newRegistry(t, nil)
	if _, err := push(t, out, "oci://"+host+"/distgen"); err != nil {
		t.Fatal(err)
	}

	b := &action.Bootstrap{From: "oci://" + host + "/distgen/bundles/demo:0.1.0", PlainHTTP: true}
	manifest, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(strings.TrimPrefix(string(manifest), "---\n"), "---\n")
	var src sourcev1.OCIRepository
	var ks kustomizev1.Kustomization
	if len(docs) != 2 || yaml.UnmarshalStrict([]byte(docs[0]), &src) != nil || yaml.UnmarshalStrict([]byte(docs[1]), &ks) != nil {
		t.Fatalf("bootstrap output:\n%s", manifest)
	}
	if src.Spec.Reference.Digest != res.Release.Artifact.Digest || src.Spec.URL != "oci://"+host+"/distgen/bundles/demo" || !src.Spec.Insecure {
		t.Errorf("bootstrap source %+v", src.Spec)
	}
	if ks.Spec.PostBuild.Substitute[api.RegistryVariable] != host+"/distgen" || len(ks.Spec.Patches) != 1 {
		t.Errorf("bootstrap kustomization %+v", ks.Spec)
	}
	tracked := &action.Bootstrap{From: "oci://registry.example.com/p/bundles/demo:0.1.0", Track: "0.1.x", Registry: "mirror.example.com/p"}
	manifest, err = tracked.Run(context.Background())
	if err != nil || !strings.Contains(string(manifest), "semver: 0.1.x") || strings.Contains(string(manifest), "digest:") || !strings.Contains(string(manifest), "DISTGEN_REGISTRY: mirror.example.com/p") {
		t.Errorf("tracking bootstrap (%v):\n%s", err, manifest)
	}

	for env, bin := range helmCLIs() {
		dir := t.TempDir()
		c := res.Release.Components[len(res.Release.Components)-1]
		if b, err := helm(bin, dir, "pull", "oci://"+host+"/distgen/"+c.Chart.Repository, "--version", c.Chart.Tag, "--plain-http", "-d", dir); err != nil {
			t.Errorf("%s pull: %v\n%s", env, err, b)
			continue
		}
		pulled, err := os.ReadFile(filepath.Join(dir, filepath.Base(c.Chart.File)))
		if err != nil {
			t.Fatal(err)
		}
		built, _ := os.ReadFile(filepath.Join(out, c.Chart.File))
		if !bytes.Equal(pulled, built) {
			t.Errorf("%s pulled other bytes than were built", env)
		}
		values := releaseValues(t, out, c.Name, dir)
		if b, err := helm(bin, dir, "template", c.ReleaseName, filepath.Join(dir, filepath.Base(c.Chart.File)), "-f", values); err != nil || !strings.Contains(string(b), "kind: ResourceQuota") {
			t.Errorf("%s template of the pulled chart: %v\n%s", env, err, b)
		}
	}
}

// Cancelling a push stops it with the context's error; the bundle is not
// tagged.
func TestPushCancelled(t *testing.T) {
	out, _ := build(t, repoRoot, "demo")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as soon as the first chart manifest reaches the registry.
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			h.ServeHTTP(w, req)
			if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/charts/") && strings.Contains(req.URL.Path, "/manifests/") {
				cancel()
			}
		})
	})
	p := &action.Push{From: out, To: "oci://" + host + "/distgen", PlainHTTP: true, Jobs: 1}
	if _, err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled push returned %v", err)
	}
	ref, _ := name.ParseReference(host + "/distgen/bundles/demo:0.1.0")
	if _, err := remote.Head(ref); err == nil {
		t.Error("a cancelled push tagged the bundle")
	}
}

// componentIndex is the index of the named component in a release.
func componentIndex(t *testing.T, rel *api.Release, name string) int {
	t.Helper()
	for i, c := range rel.Components {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("no component %q", name)
	return -1
}

// headDigest is the digest a registry serves for ref.
func headDigest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest.String()
}

// build --since compares with a pushed release: a chart changed under the
// same version is refused even into a fresh output directory.
func TestBuildSincePushedRelease(t *testing.T) {
	root := copyProject(t, repoRoot)
	out, _ := build(t, root, "demo")
	host := newRegistry(t, nil)
	if _, err := push(t, out, "oci://"+host+"/distgen"); err != nil {
		t.Fatal(err)
	}
	tpl := filepath.Join(root, "packages", "system", "ingress-defaults", "templates", "ingressclass.yaml")
	b, _ := os.ReadFile(tpl)
	if err := os.WriteFile(tpl, append(b, []byte("  ssl-redirect: \"true\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &action.Build{Project: action.Project{Dir: root, Bundle: "demo"}, Out: filepath.Join(t.TempDir(), "fresh"),
		Since: "oci://" + host + "/distgen/bundles/demo:0.1.0", PlainHTTP: true}
	_, err := a.Run(context.Background())
	var ub *action.UnbumpedError
	if !errors.As(err, &ub) || len(ub.Changed) != 2 || !strings.Contains(err.Error(), `component "ingress-defaults"`) || !strings.Contains(err.Error(), `bundle "demo"`) {
		t.Errorf("build --since after an unbumped change: %v", err)
	}
	a.AllowUnbumped = true
	if _, err := a.Run(context.Background()); err != nil {
		t.Errorf("build --since --allow-unbumped: %v", err)
	}
}

// push --dry-run looks the tags up and says what would be written, with
// sizes, and writes nothing: no manifest reaches the registry, no layout
// directory is made.
func TestPushDryRun(t *testing.T) {
	ctx := context.Background()
	out, res := build(t, repoRoot, "demo")
	rec := &recorder{}
	host := newRegistry(t, func(h http.Handler) http.Handler { rec.next = h; return rec })
	to := "oci://" + host + "/distgen"
	dry := &action.Push{From: out, To: to, PlainHTTP: true, DryRun: true}
	planned, err := dry.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !planned.DryRun || len(planned.Artifacts) != len(res.Release.Components)+1 || planned.Bytes == 0 || len(rec.manifests) != 0 {
		t.Errorf("dry run: %d artifacts, %d bytes, %d manifests written", len(planned.Artifacts), planned.Bytes, len(rec.manifests))
	}
	pushed, err := push(t, out, to)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Bytes == 0 || pushed.Bytes > planned.Bytes {
		t.Errorf("push sent %d bytes, the dry run said at most %d", pushed.Bytes, planned.Bytes)
	}
	again, err := dry.Run(ctx)
	if err != nil || again.Bytes != 0 {
		t.Errorf("dry run after the push: %d bytes, %v", again.Bytes, err)
	}
	for _, a := range again.Artifacts {
		if !a.Skipped {
			t.Errorf("dry run after the push would write %s", a.Ref)
		}
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := (&action.Push{From: out, To: "oci-layout:" + dir, DryRun: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run made %s (%v)", dir, err)
	}
}

// A layout is for others to read (a site serves it): directories 0755 and
// files 0644, whatever the umask of the one who pushed it.
func TestLayoutModes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	out, _ := build(t, repoRoot, "demo")
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := push(t, out, "oci-layout:"+dir); err != nil {
		t.Fatal(err)
	}
	checkModes(t, dir)
}
