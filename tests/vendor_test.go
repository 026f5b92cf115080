package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/artifact"
	"github.com/distgen/distgen/generator/upstream"
	"github.com/distgen/distgen/tests/fixture"
)

// upstreamChart packages a small chart named name at version.
func upstreamChart(t *testing.T, name, version string) []byte {
	t.Helper()
	c := &chartv2.Chart{
		Metadata:  &chartv2.Metadata{APIVersion: "v2", Name: name, Version: version},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + name + "\ndata:\n  replicas: {{ .Values.replicas | quote }}\n")}},
		Raw:       []*common.File{{Name: "values.yaml", Data: []byte("replicas: 1\n")}},
	}
	c.StampModTimes(time.Unix(0, 0))
	path, err := chartutil.Save(c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// helmRepo serves a classic Helm repository over HTTPS; it counts requests.
func helmRepo(t *testing.T, charts map[string][]byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	var index bytes.Buffer
	index.WriteString("apiVersion: v1\nentries:\n")
	byName := map[string][]string{}
	for file := range charts {
		n, _, _ := strings.Cut(strings.TrimSuffix(file, ".tgz"), "-")
		byName[n] = append(byName[n], file)
	}
	for n, files := range byName {
		fmt.Fprintf(&index, "  %s:\n", n)
		for _, file := range files {
			_, v, _ := strings.Cut(strings.TrimSuffix(file, ".tgz"), "-")
			fmt.Fprintf(&index, "  - name: %s\n    version: %s\n    urls: [charts/%s]\n    digest: %s\n", n, v, file, strings.TrimPrefix(upstreamDigest(charts[file]), "sha256:"))
		}
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/repo/index.yaml" {
			w.Write(index.Bytes())
			return
		}
		if b, ok := charts[strings.TrimPrefix(r.URL.Path, "/repo/charts/")]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// addStack adds to the test project at root a component "stack" (chart
// 1.0.0, namespace ns-s) wrapping the upstream charts list names (CUE),
// pinned at versions (CUE).
func addStack(t *testing.T, root, versions, list string) {
	t.Helper()
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `opt: chart: "0.1.0"`, `opt: chart: "0.1.0"`+"\n\t\tstack: {chart: \"1.0.0\", upstream: "+versions+"}")
	fixture.Edit(t, filepath.Join(root, "bundles/test.cue"), "\topt: {", "\tstack: {\n\t\tnamespace: \"ns-s\"\n\t\tchart: upstream: "+list+"\n\t\tvalues: podinfo: replicas: 3\n\t}\n\topt: {")
}

func upstreamDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestVendorFetchesLocksAndBuildsOffline(t *testing.T) {
	root := fixture.Copy(t, "../cmd/distgen/testdata/base")
	t.Setenv("DISTGEN_CACHE", t.TempDir())

	podinfo := upstreamChart(t, "podinfo", "6.5.0")
	repoSrv, repoHits := helmRepo(t, map[string][]byte{"podinfo-6.5.0.tgz": podinfo})
	// The OCI chart: pushed to an in-process registry as helm push would.
	host := newRegistry(t, nil)
	redis := upstreamChart(t, "redis", "v1.2.3")
	img, err := artifact.Chart(redis, time.Unix(0, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/charts/redis:v1.2.3")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	addStack(t, root, `{podinfo: "6.5.0", redis: "v1.2.3"}`, fmt.Sprintf(`[{repository: %q, name: "podinfo"}, {repository: %q, name: "redis"}]`,
		repoSrv.URL+"/repo", "oci://"+host+"/charts"))

	fetcher := &upstream.Fetcher{HTTP: repoSrv.Client(), PlainHTTP: true}
	res, err := (&action.Vendor{Dir: root, Fetcher: fetcher}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Source != "fetched" || res[1].Source != "fetched" {
		t.Fatalf("first vendor: %+v", res)
	}
	lock, err := upstream.ReadLock(root)
	if err != nil || len(lock.Charts) != 2 {
		t.Fatalf("lock %+v (%v)", lock, err)
	}
	for _, l := range lock.Charts {
		want := upstreamDigest(podinfo)
		if l.Name == "redis" {
			want = upstreamDigest(redis)
			if d, _ := img.Digest(); l.Manifest != d.String() {
				t.Errorf("redis manifest digest %s, pushed %s", l.Manifest, d)
			}
		}
		if l.Digest != want {
			t.Errorf("%s locked as %s, archive is %s", l.Name, l.Digest, want)
		}
	}

	// Second run: everything from the cache, no request to the repository.
	before := repoHits.Load()
	res, err = (&action.Vendor{Dir: root, Fetcher: fetcher}).Run(context.Background())
	if err != nil || res[0].Source != "cache" || res[1].Source != "cache" || repoHits.Load() != before {
		t.Errorf("second vendor: %+v, %v, %d requests", res, err, repoHits.Load()-before)
	}

	// Offline: both servers down, the build reads the cache.
	repoSrv.Close()
	out, built := build(t, root, "test")
	var stack *api.ReleaseComponent
	for i := range built.Release.Components {
		if built.Release.Components[i].Name == "stack" {
			stack = &built.Release.Components[i]
		}
	}
	if stack == nil {
		t.Fatal("stack not built")
	}
	manifests, err := (&action.Template{Project: action.Project{Dir: root}, Component: "stack"}).Run(context.Background())
	if err != nil || !strings.Contains(manifests, `replicas: "3"`) || !strings.Contains(manifests, "stack-redis") {
		t.Errorf("stack renders (%v):\n%s", err, manifests)
	}
	if _, err := os.Stat(filepath.Join(out, stack.Chart.File)); err != nil {
		t.Error(err)
	}
}

func TestVendorRejectsPinMismatch(t *testing.T) {
	root := fixture.Copy(t, "../cmd/distgen/testdata/base")
	t.Setenv("DISTGEN_CACHE", t.TempDir())
	podinfo := upstreamChart(t, "podinfo", "6.5.0")
	srv, _ := helmRepo(t, map[string][]byte{"podinfo-6.5.0.tgz": podinfo})
	b, _ := os.ReadFile(filepath.Join(root, "versions.cue"))
	os.WriteFile(filepath.Join(root, "versions.cue"), []byte(strings.Replace(string(b), `opt: chart: "0.1.0"`, `opt: chart: "0.1.0"`+"\n\t\tw: {chart: \"1.0.0\", upstream: podinfo: \"6.5.0\"}", 1)), 0o644)
	b, _ = os.ReadFile(filepath.Join(root, "bundles/test.cue"))
	wrong := "sha256:" + strings.Repeat("0", 64)
	os.WriteFile(filepath.Join(root, "bundles/test.cue"), []byte(strings.Replace(string(b), "\topt: {", fmt.Sprintf("\tw: {\n\t\tnamespace: \"ns-w\"\n\t\tchart: upstream: [{repository: %q, name: \"podinfo\", digest: %q}]\n\t}\n\topt: {", srv.URL+"/repo", wrong), 1)), 0o644)
	_, err := (&action.Vendor{Dir: root, Fetcher: &upstream.Fetcher{HTTP: srv.Client()}}).Run(context.Background())
	if !errors.Is(err, upstream.ErrDigestMismatch) && (err == nil || !strings.Contains(err.Error(), "digest mismatch")) {
		t.Fatalf("vendor of a chart that does not match its pin: %v", err)
	}
	if !strings.Contains(err.Error(), "upstream chart podinfo 6.5.0") {
		t.Errorf("error does not name the chart: %v", err)
	}
	// A plain certificate check: without the test server's CA, TLS fails.
	_, err = (&action.Vendor{Dir: root, Fetcher: &upstream.Fetcher{}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("fetch from an untrusted TLS server: %v", err)
	}
}

// tgz writes a gzipped tar of the given headers and bodies.
func tgz(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		body := []byte("apiVersion: v2\nname: x\nversion: 1.0.0\n")
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(body)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestVerifyRefusesUnsafeArchives(t *testing.T) {
	u := api.Upstream{Name: "x", Version: "1.0.0"}
	ok := tgz(t, tar.Header{Name: "x/Chart.yaml", Typeflag: tar.TypeReg})
	if err := upstream.Verify(ok, u, ""); err != nil {
		t.Fatalf("a plain chart is refused: %v", err)
	}
	for name, archive := range map[string][]byte{
		"symlink":        tgz(t, tar.Header{Name: "x/Chart.yaml", Typeflag: tar.TypeReg}, tar.Header{Name: "x/templates/evil.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}),
		"hard link":      tgz(t, tar.Header{Name: "x/Chart.yaml", Typeflag: tar.TypeReg}, tar.Header{Name: "x/values.yaml", Typeflag: tar.TypeLink, Linkname: "x/Chart.yaml"}),
		"path traversal": tgz(t, tar.Header{Name: "x/Chart.yaml", Typeflag: tar.TypeReg}, tar.Header{Name: "x/../../etc/cron.d/evil", Typeflag: tar.TypeReg}),
		"not gzip":       []byte("not an archive"),
	} {
		if err := upstream.Verify(archive, u, ""); !errors.Is(err, upstream.ErrUnsafeArchive) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := upstream.Verify(ok, api.Upstream{Name: "y", Version: "1.0.0"}, ""); err == nil {
		t.Error("an archive of another chart is accepted")
	}
	if err := upstream.Verify(ok, u, "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, upstream.ErrDigestMismatch) {
		t.Errorf("wrong pin: %v", err)
	}
	// An absurd size is refused before it is read whole.
	huge := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "index.yaml") {
			fmt.Fprint(w, "apiVersion: v1\nentries:\n  x:\n  - version: 1.0.0\n    urls: [x-1.0.0.tgz]\n")
			return
		}
		chunk := make([]byte, 1<<20)
		for i := 0; i <= upstream.MaxArchiveSize>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	_, err := (&upstream.Fetcher{HTTP: huge.Client()}).Fetch(context.Background(), api.Upstream{Repository: huge.URL, Name: "x", Version: "1.0.0"})
	if !errors.Is(err, upstream.ErrUnsafeArchive) {
		t.Errorf("oversized archive: %v", err)
	}
}
