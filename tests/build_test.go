package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	corev1 "k8s.io/api/core/v1"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/render/chart"
)

// The demo bundle's Flux objects and release.json are pinned by golden
// files; run with -update to rewrite them after an intended change.
func TestDemoGolden(t *testing.T) {
	out, _ := build(t, repoRoot, "demo")
	compareGolden(t, out, filepath.Join("testdata", "golden", "demo"), "TestDemoGolden", "release.json", "flux/*.yaml", "flux/components/*.yaml")
}

// compareGolden compares the files of out that match patterns with the
// golden files in golden (rewriting them with -update).
func compareGolden(t *testing.T, out, golden, test string, patterns ...string) {
	t.Helper()
	got := map[string][]byte{}
	for _, pattern := range patterns {
		matches, _ := filepath.Glob(filepath.Join(out, pattern))
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(out, m)
			got[rel] = b
		}
	}
	if *update {
		os.RemoveAll(golden)
		for rel, b := range got {
			path := filepath.Join(golden, rel)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := map[string][]byte{}
	err := filepath.Walk(golden, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(golden, path)
		want[rel] = b
		return err
	})
	if err != nil {
		t.Fatalf("reading golden files (run go test ./tests -run %s -update): %v", test, err)
	}
	for rel, w := range want {
		if g, ok := got[rel]; !ok {
			t.Errorf("%s: not produced", rel)
		} else if !bytes.Equal(g, w) {
			t.Errorf("%s differs from its golden file:\n--- got\n%s\n--- want\n%s", rel, g, w)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: produced but has no golden file", rel)
		}
	}
}

// Two builds give the same bytes; so does a build from a fresh copy of the
// sources in which every file has a new mtime, in another directory.
func TestReproducible(t *testing.T) {
	first, _ := build(t, repoRoot, "demo")
	second, _ := build(t, repoRoot, "demo")
	want := hashes(t, first)
	if got := hashes(t, second); !reflect.DeepEqual(got, want) {
		t.Fatalf("two builds differ:\n%v\n%v", got, want)
	}

	fresh := copyProject(t, repoRoot)
	future := time.Now().Add(48 * time.Hour)
	err := filepath.Walk(fresh, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, future, future)
	})
	if err != nil {
		t.Fatal(err)
	}
	third, _ := build(t, fresh, "demo")
	if got := hashes(t, third); !reflect.DeepEqual(got, want) {
		for name, h := range got {
			if want[name] != h {
				t.Errorf("%s differs after touching and copying the sources", name)
			}
		}
	}
}

// Every generated object decodes strictly into its Flux or Kubernetes API
// type and encodes back to the same object.
func TestFluxObjectsRoundTrip(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	files, _ := filepath.Glob(filepath.Join(out, "flux", "components", "*.yaml"))
	files = append(files, filepath.Join(out, "flux", "namespaces.yaml"))
	kinds := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "---\n") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatal(err)
			}
			var obj any
			switch meta.Kind {
			case "Namespace":
				obj = &corev1.Namespace{}
			case sourcev1.OCIRepositoryKind:
				obj = &sourcev1.OCIRepository{}
			case helmv2.HelmReleaseKind:
				obj = &helmv2.HelmRelease{}
			default:
				t.Fatalf("%s: unexpected kind %q", f, meta.Kind)
			}
			kinds[meta.Kind]++
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: %s does not decode strictly: %v", f, meta.Kind, err)
			}
			var typed, generic map[string]any
			tb, _ := yaml.Marshal(obj)
			if err := yaml.Unmarshal(tb, &typed); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(doc), &generic); err != nil {
				t.Fatal(err)
			}
			delete(typed, "status")
			delete(typed["metadata"].(map[string]any), "creationTimestamp")
			if s, ok := typed["spec"].(map[string]any); ok && len(s) == 0 {
				delete(typed, "spec")
			}
			if !reflect.DeepEqual(typed, generic) {
				t.Errorf("%s: %s changes through its API type:\n%s\nvs\n%s", f, meta.Kind, tb, doc)
			}
		}
	}
	n := len(res.Release.Components)
	if kinds[sourcev1.OCIRepositoryKind] != n || kinds[helmv2.HelmReleaseKind] != n || kinds["Namespace"] == 0 {
		t.Errorf("object counts %v for %d components", kinds, n)
	}

	var k kustypes.Kustomization
	b, err := os.ReadFile(filepath.Join(out, "flux", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(out, "flux"), f)
		listed = append(listed, filepath.ToSlash(rel))
	}
	sort.Strings(listed)
	got := append([]string(nil), k.Resources...)
	sort.Strings(got)
	if !reflect.DeepEqual(got, listed) || k.Resources[0] != "namespaces.yaml" {
		t.Errorf("kustomization resources %v, want %v with namespaces first", k.Resources, listed)
	}
}

// A chart's values files are merged into its packaged values.yaml; a lone
// values.yaml is kept as written; the other values files are not shipped.
func TestPackagedValues(t *testing.T) {
	root := copyProject(t, repoRoot)
	// tenant-root now takes its chart defaults from another file alone.
	dir := filepath.Join(root, "packages", "system", "tenant")
	orig, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	only := strings.NewReplacer(`tenant: ""`, "tenant: from-file", "isolated: true", "isolated: false").Replace(string(orig))
	if err := os.WriteFile(filepath.Join(dir, "values-only.yaml"), []byte(only), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(root, "bundles", "demo.cue")
	b, _ := os.ReadFile(bundle)
	b = []byte(strings.Replace(string(b), `chart: path: "packages/system/tenant"`, `chart: path: "packages/system/tenant"`+"\n\t\t\tvaluesFiles: [\"values-only.yaml\"]", 1))
	if err := os.WriteFile(bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := build(t, root, "demo")
	load := func(name string) *chartv2.Chart {
		c, err := loader.Load(filepath.Join(out, "charts", name))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rawValues := func(c *chartv2.Chart) string {
		for _, f := range c.Raw {
			if f.Name == "values.yaml" {
				return string(f.Data)
			}
		}
		return ""
	}
	dash := load("monitoring-dashboards-0.1.0.tgz")
	if v := rawValues(dash); !strings.Contains(v, "# Merged by distgen from values.yaml, values-platform.yaml.") ||
		!strings.Contains(v, "title: Tenants") || !strings.Contains(v, "folder: Platform") {
		t.Errorf("merged values.yaml:\n%s", v)
	}
	for _, f := range dash.Files {
		if f.Name == "values-platform.yaml" {
			t.Error("a merged values file is still shipped")
		}
	}
	if v := rawValues(load("platform-rbac-0.1.0.tgz")); !strings.HasPrefix(v, "priorityClasses:\n  platform-critical: 1000000\n") {
		t.Errorf("a lone values.yaml is not kept as written:\n%s", v)
	}
	tenant := load("tenant-root-0.1.0.tgz")
	if v := rawValues(tenant); !strings.HasPrefix(v, "# Merged by distgen from values-only.yaml.\n") || !strings.Contains(v, "tenant: from-file") {
		t.Errorf("values.yaml of a chart with other values files:\n%s", v)
	}
	if tenant.Values["isolated"] != false {
		t.Errorf("chart values %v", tenant.Values)
	}
}

// The image inventory of a chart with every workload kind, init and
// ephemeral containers, images set through values and a helm.sh/images
// annotation is pinned by a golden file.
func TestImageInventory(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("testdata", "workloads"))
	vals, err := loader.LoadValues(strings.NewReader(readString(t, filepath.Join(dir, "values.yaml"))))
	if err != nil {
		t.Fatal(err)
	}
	comp := &api.Component{Name: "workloads", Namespace: "apps", ReleaseName: "workloads", Version: "1.0.0",
		Chart: api.ChartSource{Path: "packages/system/workloads"}, ChartDir: dir, ValuesFiles: []string{"values.yaml"},
		FileValues: []map[string]any{vals}, Values: map[string]any{"worker": map[string]any{"tag": "2.2"}}, Enabled: true}
	p, err := plan.Build(&api.Bundle{Name: "t", Components: []*api.Component{comp}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := chart.Build(p.Steps[0], chart.Options{ReleaseDate: time.Unix(0, 0), ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Images, "\n") + "\n"
	golden := filepath.Join("testdata", "golden", "workloads-images.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readString(t, golden); got != want {
		t.Errorf("inventory:\n%s\nwant:\n%s", got, want)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
