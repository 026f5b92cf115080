package tests

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/serve"
)

// A release written as an OCI layout is served read-only with the digests
// build computed; helm pulls from it; bootstrap resolves through it.
func TestServeLayout(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	dir := t.TempDir()
	if _, err := push(t, out, "oci-layout:"+dir); err != nil {
		t.Fatal(err)
	}
	h, refs, err := serve.Handler(dir, "site")
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
	go func() {
		done <- (&action.Serve{Dir: dir, Addr: "127.0.0.1:0", OnReady: func(addr string, _ []string) { ready <- addr }}).Run(ctx)
	}()
	addr := <-ready
	resp, err := http.Get("http://" + addr + "/v2/bundles/demo/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("tags list answered %d", resp.StatusCode)
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
