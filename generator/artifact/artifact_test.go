package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/distgen/distgen/generator/api"
)

var when = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func TestTarballIsDeterministic(t *testing.T) {
	files := []File{{"b.yaml", []byte("b")}, {"a/x.yaml", []byte("x")}, {"a.yaml", []byte("a")}}
	first, err := Tarball(files, when)
	if err != nil {
		t.Fatal(err)
	}
	reversed := []File{files[2], files[1], files[0]}
	second, err := Tarball(reversed, when)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("same files in another order give other bytes")
	}
	zr, err := gzip.NewReader(bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header carries time %v or name %q", zr.ModTime, zr.Name)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(when) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Mode != 0o644 {
			t.Errorf("%s: header %+v not normalised", h.Name, h)
		}
	}
	if want := []string{"a.yaml", "a/x.yaml", "b.yaml"}; len(names) != 3 || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Errorf("entries %v, want %v", names, want)
	}
	if _, err := Tarball([]File{{"a", nil}, {"a", nil}}, when); err == nil {
		t.Error("duplicate paths accepted")
	}
}

func manifest(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestChartArtifact(t *testing.T) {
	c := &chartv2.Chart{
		Metadata:  &chartv2.Metadata{APIVersion: "v2", Name: "demo", Version: "1.2.3", Description: "a demo", Home: "https://example.org"},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte("kind: ConfigMap\n")}},
	}
	c.StampModTimes(when)
	path, err := chartutil.Save(c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	archive := readFile(t, path)
	img, err := Chart(archive, when, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	m := manifest(t, raw)
	if m["mediaType"] != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("manifest media type %v", m["mediaType"])
	}
	cfg := m["config"].(map[string]any)
	if cfg["mediaType"] != api.MediaTypeHelmConfig {
		t.Errorf("config media type %v", cfg["mediaType"])
	}
	layers := m["layers"].([]any)
	if len(layers) != 1 || layers[0].(map[string]any)["mediaType"] != api.MediaTypeHelmChart {
		t.Errorf("layers %v", layers)
	}
	ann := m["annotations"].(map[string]any)
	for k, v := range map[string]string{
		api.AnnotationTitle: "demo", api.AnnotationVersion: "1.2.3", api.AnnotationCreated: "2026-11-23T00:00:00Z",
		api.AnnotationDescription: "a demo", "org.opencontainers.image.url": "https://example.org",
	} {
		if ann[k] != v {
			t.Errorf("annotation %s = %v, want %s", k, ann[k], v)
		}
	}
	config, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var meta chartv2.Metadata
	if err := json.Unmarshal(config, &meta); err != nil || meta.Name != "demo" || meta.Version != "1.2.3" {
		t.Errorf("config is not the chart's metadata: %s (%v)", config, err)
	}
	l, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, archive) {
		t.Error("layer is not the chart archive")
	}

	// Another creation date is another digest; the same inputs the same one.
	d1, _ := img.Digest()
	img2, _ := Chart(archive, when, nil)
	d2, _ := img2.Digest()
	img3, _ := Chart(archive, when.Add(time.Hour), nil)
	d3, _ := img3.Digest()
	if d1 != d2 || d1 == d3 {
		t.Errorf("digests %s %s %s: want first two equal, third different", d1, d2, d3)
	}

	// The images a release pulls are annotated, and are part of the digest.
	withImages, _ := Chart(archive, when, []string{"a.example/x:1", "b.example/y:2"})
	raw, _ = withImages.RawManifest()
	if got := manifest(t, raw)["annotations"].(map[string]any)[api.AnnotationImages]; got != "a.example/x:1,b.example/y:2" {
		t.Errorf("images annotation %v", got)
	}
	if d4, _ := withImages.Digest(); d4 == d1 {
		t.Error("images do not change the digest")
	}
}

func TestBundleArtifact(t *testing.T) {
	files := []File{{"kustomization.yaml", []byte("resources: []\n")}}
	img, err := Bundle(files, BundleMeta{Source: "distgen:bundles/x", Version: "1.0.0", Created: when})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	m := manifest(t, raw)
	if m["config"].(map[string]any)["mediaType"] != api.MediaTypeFluxConfig {
		t.Errorf("config %v", m["config"])
	}
	if m["layers"].([]any)[0].(map[string]any)["mediaType"] != api.MediaTypeFluxContent {
		t.Errorf("layers %v", m["layers"])
	}
	ann := m["annotations"].(map[string]any)
	if ann[api.AnnotationSource] != "distgen:bundles/x" || ann[api.AnnotationCreated] != "2026-11-23T00:00:00Z" {
		t.Errorf("annotations %v", ann)
	}
	if rev, _ := ann[api.AnnotationRevision].(string); len(rev) < len("1.0.0@sha256:") || rev[:13] != "1.0.0@sha256:" {
		t.Errorf("revision %q", rev)
	}
	changed, _ := Bundle([]File{{"kustomization.yaml", []byte("resources: [x]\n")}}, BundleMeta{Source: "distgen:bundles/x", Version: "1.0.0", Created: when})
	d1, _ := img.Digest()
	d2, _ := changed.Digest()
	if d1 == d2 {
		t.Error("changed content kept the digest")
	}
}

// Metadata reads what Helm's loader reads, from Chart.yaml alone for an
// apiVersion v2 chart (with dependencies, maintainers, annotations, a
// subchart's Chart.yaml after it), and by loading a v1 chart whole.
func TestMetadataMatchesHelm(t *testing.T) {
	sub := &chartv2.Chart{Metadata: &chartv2.Metadata{APIVersion: "v2", Name: "sub", Version: "0.1.0", Type: "library"}}
	v2 := &chartv2.Chart{Metadata: &chartv2.Metadata{
		APIVersion: "v2", Name: "full", Version: "1.2.3", AppVersion: "4.5", Description: "all fields", Home: "https://example.org",
		Sources: []string{"https://example.org/src"}, Keywords: []string{"a", "b"}, KubeVersion: ">=1.30.0-0",
		Maintainers: []*chartv2.Maintainer{{Name: "x", Email: "x@example.org"}}, Annotations: map[string]string{"helm.sh/images": "- image: a:1"},
		Dependencies: []*chartv2.Dependency{{Name: "sub", Version: "0.1.0", Repository: "https://charts.example.org", Condition: "sub.enabled", Alias: "s"}},
		Deprecated:   true, Icon: "https://example.org/icon.png",
	}}
	v2.AddDependency(sub)
	v1chart := &chartv2.Chart{Metadata: &chartv2.Metadata{APIVersion: "v1", Name: "old", Version: "0.9.0"}}
	for _, c := range []*chartv2.Chart{v2, v1chart} {
		c.StampModTimes(when)
		path, err := chartutil.Save(c, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		archive := readFile(t, path)
		want, err := loader.LoadArchive(bytes.NewReader(archive))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Metadata(archive)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want.Metadata) {
			t.Errorf("%s: Metadata %+v\nHelm's loader %+v", c.Name(), got, want.Metadata)
		}
		if _, fast := chartfile(archive); fast != (c.Metadata.APIVersion == "v2") {
			t.Errorf("%s: read from Chart.yaml alone: %v", c.Name(), fast)
		}
	}
	if _, err := Metadata([]byte("not a chart")); err == nil {
		t.Error("Metadata of a non-archive did not fail")
	}
}
