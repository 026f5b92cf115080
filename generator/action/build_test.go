package action_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/tests/fixture"
)

// overlap is one way a bundle's values can meet a chart's defaults.
type overlap int

const (
	overrideScalar overlap = iota // a nested scalar default replaced
	partialMap                    // some keys of a nested default map set, the others left to the chart
	replaceList                   // a default list (of maps) replaced by another
	deleteKey                     // a default removed with null
	changeType                    // a map where the chart has a scalar, and a scalar where it has a map
	overlaps
)

// valuesCatalog writes a project of n components, each with a chart of its
// own whose values.yaml has nested maps and lists, and a bundle whose values
// overlap those defaults in every way above. It returns the values each
// component's HelmRelease must carry: exactly the bundle's.
func valuesCatalog(t *testing.T, dir string, n int, seed uint64) map[string]map[string]any {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed+1))
	files := map[string]string{
		"bundles/bundles.cue": catalog.BundlesCUE,
	}
	want := map[string]map[string]any{}
	var bundle, versions strings.Builder
	bundle.WriteString("package bundles\n\nbundles: pure: components: {\n")
	versions.WriteString("package distgen\n\nimport \"github.com/distgen/distgen/schemas\"\n\nversions: schemas.#Versions & {\n\tdistribution: \"1.0.0\"\n\treleaseDate: \"2026-11-23T00:00:00Z\"\n\tcomponents: {\n")
	for i := range n {
		name := fmt.Sprintf("p%02d", i)
		defaults := randomTree(r, 3)
		values := map[string]any{}
		// Every component has each kind of overlap at least once, nested
		// one level down (where a shallow copy shares maps), plus a random
		// mix elsewhere.
		for k := range overlaps {
			key := fmt.Sprintf("o%d", k)
			def, val := overlapPair(r, k)
			defaults[key] = map[string]any{"nested": def, "keep": "chart"}
			values[key] = map[string]any{"nested": val}
		}
		for k, v := range defaults {
			if _, done := values[k]; !done && r.IntN(2) == 0 {
				values[k] = randomOverlay(r, v)
			}
		}
		values["fresh"] = map[string]any{"only": "bundle", "list": []any{1, "two"}}
		want[name] = jsonRoundTrip(t, values)

		chartDir := "packages/system/" + name
		files[chartDir+"/Chart.yaml"] = "apiVersion: v2\nname: " + name + "\nversion: 0.0.0\ndescription: values overlap fixture\n"
		files[chartDir+"/values.yaml"] = string(mustYAML(t, defaults))
		files[chartDir+"/templates/config.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  values.json: {{ toJson .Values | quote }}\n"
		body, err := json.Marshal(values)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&bundle, "\t%s: {\n\t\tnamespace: \"ns-%d\"\n\t\tchart: path: %q\n\t\tvalues: %s\n\t}\n", name, i%3, chartDir, body)
		fmt.Fprintf(&versions, "\t\t%s: chart: \"1.0.%d\"\n", name, i)
	}
	bundle.WriteString("}\n")
	versions.WriteString("\t}\n}\n")
	files["bundles/pure.cue"] = bundle.String()
	files["versions.cue"] = versions.String()
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// overlapPair returns a chart default and the bundle value that meets it
// in the given way.
func overlapPair(r *rand.Rand, k overlap) (def, val any) {
	switch k {
	case overrideScalar:
		return map[string]any{"tag": "1.27.3", "repository": "docker.io/library/nginx"},
			map[string]any{"repository": fmt.Sprintf("127.0.0.1:5056/library/nginx-%d", r.IntN(100))}
	case partialMap:
		return map[string]any{"limits": map[string]any{"cpu": "1", "memory": "1Gi"}, "requests": map[string]any{"cpu": "100m"}},
			map[string]any{"limits": map[string]any{"memory": "2Gi"}}
	case replaceList:
		return []any{map[string]any{"name": "a", "port": 80}, map[string]any{"name": "b", "port": 81}},
			[]any{map[string]any{"name": "c"}}
	case deleteKey:
		return map[string]any{"drop": map[string]any{"deep": true}, "stay": 1}, map[string]any{"drop": nil}
	default: // changeType
		return map[string]any{"scalar": "x", "table": map[string]any{"a": 1}},
			map[string]any{"scalar": map[string]any{"now": "a map"}, "table": "now a string"}
	}
}

// randomTree is a values tree of maps, lists and scalars.
func randomTree(r *rand.Rand, depth int) map[string]any {
	out := map[string]any{}
	for i := range 2 + r.IntN(4) {
		key := fmt.Sprintf("k%d", i)
		switch x := r.IntN(5); {
		case depth > 0 && x < 2:
			out[key] = randomTree(r, depth-1)
		case depth > 0 && x == 2:
			out[key] = []any{randomTree(r, depth-1), fmt.Sprint(r.IntN(9))}
		case x == 3:
			out[key] = r.IntN(1000)
		default:
			out[key] = fmt.Sprintf("v%d", r.IntN(1000))
		}
	}
	return out
}

// randomOverlay is a bundle value over the default v: a partial map, a
// replacement or a null.
func randomOverlay(r *rand.Rand, v any) any {
	if m, ok := v.(map[string]any); ok && r.IntN(3) > 0 {
		out := map[string]any{}
		for k, e := range m {
			if r.IntN(2) == 0 {
				out[k] = randomOverlay(r, e)
			}
		}
		return out
	}
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return []any{fmt.Sprintf("b%d", r.IntN(9))}
	default:
		return fmt.Sprintf("b%d", r.IntN(1000))
	}
}

func jsonRoundTrip(t *testing.T, v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustYAML(t *testing.T, v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A build is a function of its inputs: whatever the cache holds and however
// many charts are built at once, the tree is the same, and every
// HelmRelease carries the bundle's values and nothing of the chart's
// defaults. The catalogs' values meet the charts' defaults in nested maps
// and lists in every way Helm coalesces differently.
func TestBuildIsPure(t *testing.T) {
	ctx := context.Background()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			dir := t.TempDir()
			want := valuesCatalog(t, dir, 6, seed)
			cache := &chart.Cache{Dir: t.TempDir()}
			build := func(what string, cache *chart.Cache, jobs int) map[string][]byte {
				t.Helper()
				out := filepath.Join(t.TempDir(), "out")
				a := &action.Build{Project: action.Project{Dir: dir, Bundle: "pure"}, Out: out, Cache: cache, Jobs: jobs}
				if _, err := a.Run(ctx); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return fixture.Read(t, out)
			}
			ref := build("no cache, one job", nil, 1)
			for name, values := range want {
				checkReleaseValues(t, ref, name, values)
			}
			for _, b := range []struct {
				what  string
				cache *chart.Cache
				jobs  int
			}{
				{"no cache, 4 jobs", nil, 4},
				{"cold cache, 4 jobs", cache, 4},
				{"warm cache, 4 jobs", cache, 4},
				{"warm cache, one job", cache, 1},
			} {
				if got := build(b.what, b.cache, b.jobs); !reflect.DeepEqual(got, ref) {
					t.Errorf("%s: the tree differs from a build without the cache on one job: %v", b.what, diffNames(got, ref))
				}
			}
		})
	}
}

// checkReleaseValues compares a HelmRelease's values with the bundle's.
func checkReleaseValues(t *testing.T, tree map[string][]byte, name string, want map[string]any) {
	t.Helper()
	body, ok := tree["flux/components/"+name+".yaml"]
	if !ok {
		t.Fatalf("no flux/components/%s.yaml", name)
	}
	for _, doc := range strings.Split(string(body), "\n---\n") {
		var obj struct {
			Kind string `json:"kind"`
			Spec struct {
				Values map[string]any `json:"values"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind != "HelmRelease" {
			continue
		}
		if !reflect.DeepEqual(obj.Spec.Values, want) {
			got, _ := json.Marshal(obj.Spec.Values)
			exp, _ := json.Marshal(want)
			t.Errorf("HelmRelease %s values:\n got %s\nwant %s", name, got, exp)
		}
		return
	}
	t.Fatalf("flux/components/%s.yaml has no HelmRelease", name)
}

func diffNames(a, b map[string][]byte) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || string(w) != string(v) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}
