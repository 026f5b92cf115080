package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/serve"
	"github.com/distgen/distgen/generator/store"
)

// A release written as an OCI layout is served read-only with the digests
// build computed; helm pulls from it; bootstrap resolves through it.
func TestServeLayout(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	dir := t.TempDir()
	if _, err := push(t, out, "oci-layout:"+dir); err != nil {
		t.Fatal(err)
	}
	h, refs, err := serve.Handler(store.Dir(dir), "site")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != len(res.Release.Components)+1 {
		t.Errorf("serving %v", refs)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	check := func(repo, tag, digest string) {
		ref, _ := name.ParseReference(host + "/site/" + repo + ":" + tag)
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if d, _ := img.Digest(); d.String() != digest {
			t.Errorf("%s served as %s, built as %s", ref, d, digest)
		}
		if _, err := img.Layers(); err != nil {
			t.Error(err)
		}
		l, _ := img.Layers()
		rc, err := l[0].Compressed()
		if err != nil {
			t.Fatalf("%s: layer: %v", ref, err)
		}
		rc.Close()
	}
	for _, c := range res.Release.Components {
		check(c.Chart.Repository, c.Chart.Tag, c.Chart.Digest)
	}
	check(res.Release.Artifact.Repository, res.Release.Artifact.Tag, res.Release.Artifact.Digest)

	for _, method := range []string{http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch} {
		req, _ := http.NewRequest(method, srv.URL+"/v2/site/bundles/demo/manifests/0.1.0", strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s answered %d on a read-only registry", method, resp.StatusCode)
		}
	}
	resp, err := http.Get(srv.URL + "/v2/site/charts/tenant-demo/blobs/sha256:" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown blob answered %d", resp.StatusCode)
	}

	boot, err := (&action.Bootstrap{From: "oci://" + host + "/site/bundles/demo:0.1.0", PlainHTTP: true}).Run(context.Background())
	if err != nil || !strings.Contains(string(boot), res.Release.Artifact.Digest) {
		t.Errorf("bootstrap through the served layout (%v):\n%s", err, boot)
	}
	for env, bin := range helmCLIs() {
		home := t.TempDir()
		if b, err := helm(bin, home, "pull", "oci://"+host+"/site/charts/platform-rbac", "--version", "0.1.0", "--plain-http", "-d", home); err != nil {
			t.Errorf("%s pull from the served layout: %v\n%s", env, err, b)
		} else if _, err := os.Stat(filepath.Join(home, "platform-rbac-0.1.0.tgz")); err != nil {
			t.Error(err)
		}
	}
}

func TestServeAction(t *testing.T) {
	out, _ := build(t, repoRoot, "demo")
	dir := t.TempDir()
	if _, err := push(t, out, "oci-layout:"+dir); err != nil {
		t.Fatal(err)
	}
	if err := (&action.Serve{Dir: dir, Addr: "0.0.0.0:0"}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "without TLS") {
		t.Errorf("plain HTTP on all interfaces: %v", err)
	}
	if err := (&action.Serve{Dir: t.TempDir(), Addr: "127.0.0.1:0"}).Run(context.Background()); err == nil {
		t.Error("serving a directory that is no OCI layout")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var accessLog syncBuffer
	go func() {
		done <- (&action.Serve{Dir: dir, Addr: "127.0.0.1:0", AccessLog: &accessLog, OnReady: func(addr string, _ []string) { ready <- addr }}).Run(ctx)
	}()
	addr := <-ready
	resp, err := http.Get("http://" + addr + "/v2/bundles/demo/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("tags list answered %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/bundles/nothing/manifests/0.0.0", nil)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// One line per request, with its status and size; never a header.
	want := fmt.Sprintf("GET /v2/bundles/demo/tags/list 200 %d\nGET /v2/bundles/nothing/manifests/0.0.0 404 ", len(body))
	if got := accessLog.String(); !strings.HasPrefix(got, want) || strings.Contains(got, "s3cret") {
		t.Errorf("access log:\n%s\nwant it to start with:\n%s", got, want)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// serve does not trust its layout: hostile names are not served (and never
// crash it), a blob that is a link out of the layout is not followed, and
// changed content is refused rather than served under its old digest.
func TestServeUntrustedLayout(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	clean := t.TempDir()
	if _, err := push(t, out, "oci-layout:"+clean); err != nil {
		t.Fatal(err)
	}
	// copyLayout copies the clean layout and lets edit change the copy.
	copyLayout := func(edit func(dir string, idx map[string]any)) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(clean)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		var idx map[string]any
		if err := json.Unmarshal(b, &idx); err != nil {
			t.Fatal(err)
		}
		edit(dir, idx)
		if b, err = json.Marshal(idx); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	manifests := func(idx map[string]any) []any { return idx["manifests"].([]any) }
	rename := func(i int, ref string) func(string, map[string]any) {
		return func(_ string, idx map[string]any) {
			manifests(idx)[i].(map[string]any)["annotations"].(map[string]any)["org.opencontainers.image.ref.name"] = ref
		}
	}
	blob := func(dir, digest string) string {
		return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
	}

	// Hostile names: listed nowhere, and the rest is served.
	for _, ref := range []string{"bundles/demo x:0.1.0", "bundles/demo\r\nX-Evil: 1:0.1.0", "../../etc/x:1", "charts/UPPER:1.0.0", "charts/ok:bad tag"} {
		dir := copyLayout(rename(0, ref))
		_, refs, err := serve.Handler(store.Dir(dir), "")
		if err != nil {
			t.Errorf("%q: %v", ref, err)
			continue
		}
		for _, r := range refs {
			if strings.ContainsAny(r, " \r\n") || strings.Contains(r, "..") || strings.Contains(r, "UPPER") {
				t.Errorf("%q served as %q", ref, r)
			}
		}
		if len(refs) != len(res.Release.Components) {
			t.Errorf("%q: serving %d refs, want the %d others", ref, len(refs), len(res.Release.Components))
		}
	}

	// A layer blob that is a link to a file outside the layout.
	c := res.Release.Components[0]
	img := chartImage(t, clean, c.Chart.Repository+":"+c.Chart.Tag)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	linked := copyLayout(func(dir string, _ map[string]any) {
		os.Remove(blob(dir, ld.String()))
		if err := os.Symlink(outside, blob(dir, ld.String())); err != nil {
			t.Fatal(err)
		}
	})
	if _, _, err := serve.Handler(store.Dir(linked), ""); err == nil {
		t.Error("a layout whose blob links out of it is served")
	}

	// One flipped byte in a chart layer; an edited manifest.
	flipped := copyLayout(func(dir string, _ map[string]any) {
		b, _ := os.ReadFile(blob(dir, ld.String()))
		b[len(b)/2] ^= 0xff
		os.WriteFile(blob(dir, ld.String()), b, 0o644)
	})
	if _, _, err := serve.Handler(store.Dir(flipped), ""); err == nil || !strings.Contains(err.Error(), ld.String()) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a layout with a flipped byte: %v, want the blob named as damaged", err)
	}
	edited := copyLayout(func(dir string, _ map[string]any) {
		path := blob(dir, res.Release.Artifact.Digest)
		b, _ := os.ReadFile(path)
		os.WriteFile(path, append(b, ' '), 0o644) // still JSON, another digest
	})
	if _, _, err := serve.Handler(store.Dir(edited), ""); err == nil || !strings.Contains(err.Error(), res.Release.Artifact.Digest) {
		t.Errorf("a layout with an edited manifest: %v, want its digest named", err)
	}
}

// chartImage reads repo:tag from a layout.
func chartImage(t *testing.T, dir, ref string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, _ := idx.IndexManifest()
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == ref {
			img, err := p.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no %s in %s", ref, dir)
	return nil
}

// distgen serve FILE.tar reads the archive in place: nothing is unpacked
// while it serves, and it stops cleanly on SIGTERM.
func TestServeArchiveInPlace(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	dir := t.TempDir()
	if _, err := push(t, out, "oci-layout:"+dir); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "demo.tar")
	if b, err := exec.Command("tar", "-cf", archive, "-C", dir, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	bin, err := distgenBinary()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cmd := exec.Command(bin, "serve", archive, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	addr := ""
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "serving ") {
			addr = strings.Fields(strings.SplitN(line, " at ", 2)[1])[0]
			break
		}
	}
	// The release is served from the archive, digests as built.
	ref, err := name.ParseReference(addr + "/bundles/demo:0.1.0")
	if err != nil {
		t.Fatalf("serve printed no address (%q): %v", addr, err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() != res.Release.Artifact.Digest {
		t.Errorf("the archive serves the bundle as %s, built as %s", d, res.Release.Artifact.Digest)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Errorf("reading the bundle's layer from the served archive: %v", err)
	}
	rc.Close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("while serving, TMPDIR holds %v: the archive was unpacked", left)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind after SIGTERM: %v", left)
	}
}

// syncBuffer is a bytes.Buffer safe to write from a server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
