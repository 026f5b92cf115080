package tests

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/timing"
	"github.com/distgen/distgen/tests/fixture"
)

// The build cache gives the bytes a build without it gives: on a cold
// cache, on a warm one, after a chart changes and when an entry is damaged.
// A warm build reads the cache (a warning planted in an entry comes out).
func TestBuildCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := catalog.WriteOptions(dir, catalog.Options{N: 12, Seed: 5, Small: true}); err != nil {
		t.Fatal(err)
	}
	cache := &chart.Cache{Dir: t.TempDir()}
	build := func(cache *chart.Cache, log *bytes.Buffer) map[string]string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		a := &action.Build{Project: action.Project{Dir: dir, Bundle: "bench"}, Out: out, Cache: cache}
		if log != nil {
			a.Log = log
		}
		if _, err := a.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return hashes(t, out)
	}
	fresh := build(nil, nil)
	if cold := build(cache, nil); !reflect.DeepEqual(cold, fresh) {
		t.Fatal("a build on a cold cache differs from one without it")
	}
	entries, _ := filepath.Glob(filepath.Join(cache.Dir, "*", "*.json"))
	if len(entries) != 12 {
		t.Fatalf("%d cache entries, want one per chart (12)", len(entries))
	}
	for _, e := range entries {
		fixture.Edit(t, e, `{"sha256"`, `{"lint":["planted by the test"],"sha256"`)
	}
	var log bytes.Buffer
	if warm := build(cache, &log); !reflect.DeepEqual(warm, fresh) {
		t.Fatal("a build on a warm cache differs from one without it")
	}
	if n := planted(log.String()); n != 12 {
		t.Errorf("%d charts came from the cache, want 12:\n%s", n, log.String())
	}

	// One chart changes: it is built again, the others still come from the cache.
	fixture.Edit(t, filepath.Join(dir, "packages", "system", "c0007", "templates", "workload.yaml"), "kind: ConfigMap", "kind: ConfigMap # changed")
	fresh = build(nil, nil)
	log.Reset()
	if changed := build(cache, &log); !reflect.DeepEqual(changed, fresh) {
		t.Fatal("after a chart changed, the cached build differs from one without the cache")
	}
	if n := planted(log.String()); n != 11 {
		t.Errorf("%d charts came from the cache after one changed, want 11", n)
	}

	// Damaged archives are not used.
	archives, _ := filepath.Glob(filepath.Join(cache.Dir, "*", "*.tgz"))
	for _, a := range archives {
		if err := os.WriteFile(a, []byte("not a chart"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if damaged := build(cache, nil); !reflect.DeepEqual(damaged, fresh) {
		t.Fatal("a build over damaged cache entries differs from one without the cache")
	}
}

// planted counts the components a lint finding planted in the cache
// entries is reported for: one line names them all.
func planted(log string) int {
	m := regexp.MustCompile(`warning: (\d+) components \([^)]*\): lint: planted by the test`).FindStringSubmatch(log)
	if m == nil {
		return strings.Count(log, "planted by the test")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Every input of a chart build is in its cache key: after each edit, a
// build on the warm cache gives what a build without it gives, and the
// edit changed the release. The cache key is taken from the files as read,
// so a values file that .helmignore keeps out of the chart counts by the
// values it gives.
func TestBuildCacheKeyCoversInputs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := catalog.WriteOptions(dir, catalog.Options{N: 12, Seed: 5, Small: true}); err != nil {
		t.Fatal(err)
	}
	chartDir := filepath.Join(dir, "packages", "system", "c0007")
	bundle := filepath.Join(dir, "bundles", "bench.cue")
	fixture.Write(t, filepath.Join(chartDir, "extra.yaml"), "image: registry.example.invalid/extra:1.0.0\n")
	fixture.Write(t, filepath.Join(chartDir, ".helmignore"), "extra.yaml\n")
	fixture.Edit(t, bundle, `chart: path: "packages/system/c0007"`, `chart: path: "packages/system/c0007"
		valuesFiles: ["values.yaml", "extra.yaml"]`)
	cache := &chart.Cache{Dir: t.TempDir()}
	build := func(cache *chart.Cache) map[string]string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		a := &action.Build{Project: action.Project{Dir: dir, Bundle: "bench"}, Out: out, Cache: cache}
		if _, err := a.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return hashes(t, out)
	}
	before := build(cache)
	for _, edit := range []struct {
		what           string
		path, old, new string
	}{
		{"a values file the chart ignores", filepath.Join(chartDir, "extra.yaml"), "extra:1.0.0", "extra:2.0.0"},
		{"the chart's values.yaml", filepath.Join(chartDir, "values.yaml"), "message: hello", "message: hi"},
		{"a template", filepath.Join(chartDir, "templates", "workload.yaml"), "  message:", "  edited: \"yes\"\n  message:"},
		{"the bundle's values", bundle, `message: "component 7"`, `message: "edited"`},
		{"the namespace", bundle, `namespace: "ns-07"`, `namespace: "ns-07b"`},
		{"the release name", bundle, `namespace: "ns-07b"`, `namespace: "ns-07b"
		releaseName: "renamed"`},
	} {
		fixture.Edit(t, edit.path, edit.old, edit.new)
		fresh, cached := build(nil), build(cache)
		if !reflect.DeepEqual(cached, fresh) {
			t.Errorf("after editing %s, a build on the warm cache differs from one without it", edit.what)
		}
		if reflect.DeepEqual(fresh, before) {
			t.Errorf("editing %s changed nothing in the release: the case tests nothing", edit.what)
		}
		before = fresh
	}
}

// An unchanged chart directory is not read again: the build cache's stat
// index gives its content's digest from what the file system says of its
// files. A file rewritten with the same size and modification time is
// still seen (its change time moved), and a stat index that names the
// wrong content only costs a read.
func TestBuildCacheStatIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := catalog.WriteOptions(dir, catalog.Options{N: 12, Seed: 5, Small: true}); err != nil {
		t.Fatal(err)
	}
	cache := &chart.Cache{Dir: t.TempDir()}
	build := func(cache *chart.Cache) (map[string]string, int) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		stages := timing.New()
		a := &action.Build{Project: action.Project{Dir: dir, Bundle: "bench"}, Out: out, Cache: cache, Stages: stages}
		if _, err := a.Run(ctx); err != nil {
			t.Fatal(err)
		}
		reads := 0
		for _, st := range stages.List() {
			if st.Name == timing.Read {
				reads = st.Count
			}
		}
		return hashes(t, out), reads
	}
	// Files count as unchanged once they have settled (a write within the
	// file system's timestamp granularity must still change them).
	time.Sleep(200 * time.Millisecond)
	fresh, _ := build(nil)
	if cold, reads := build(cache); !reflect.DeepEqual(cold, fresh) || reads != 12 {
		t.Fatalf("cold cache: same tree %v, %d charts read, want 12", reflect.DeepEqual(cold, fresh), reads)
	}
	if warm, reads := build(cache); !reflect.DeepEqual(warm, fresh) || reads != 0 {
		t.Fatalf("warm cache: same tree %v, %d charts read, want none", reflect.DeepEqual(warm, fresh), reads)
	}

	// The same size, the same modification time, other content.
	values := filepath.Join(dir, "packages", "system", "c0004", "values.yaml")
	info, err := os.Stat(values)
	if err != nil {
		t.Fatal(err)
	}
	fixture.Edit(t, values, "message: hello", "message: HELLO")
	if err := os.Chtimes(values, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	fresh, _ = build(nil)
	if changed, reads := build(cache); !reflect.DeepEqual(changed, fresh) || reads != 1 {
		t.Fatalf("after a same-size edit: same tree as without the cache %v, %d charts read, want 1", reflect.DeepEqual(changed, fresh), reads)
	}

	// Every stat index entry names other content: each chart is read, the
	// tree is still right, and the index is put right.
	time.Sleep(200 * time.Millisecond)
	build(cache)
	index, _ := filepath.Glob(filepath.Join(cache.Dir, "stat", "*", "*"))
	if len(index) < 12 {
		t.Fatalf("%d stat index entries, want 12 or more", len(index))
	}
	for _, e := range index {
		if err := os.WriteFile(e, bytes.Repeat([]byte{7}, 32), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if wrong, reads := build(cache); !reflect.DeepEqual(wrong, fresh) || reads != 12 {
		t.Fatalf("wrong stat index: same tree %v, %d charts read, want 12", reflect.DeepEqual(wrong, fresh), reads)
	}
	if _, reads := build(cache); reads != 0 {
		t.Errorf("the stat index was not put right: %d charts read", reads)
	}
}

// When one chart changes, the release's check reads the other charts' CRDs
// and custom resources from the cache instead of rendering them again; a
// custom resource of the changed chart is still checked against a CRD of
// a chart read from the cache.
func TestBuildCacheKeepsObjects(t *testing.T) {
	ctx := context.Background()
	root := copyProject(t, repoRoot)
	fixture.Shapes(t, root)
	cache := &chart.Cache{Dir: t.TempDir()}
	build := func() (int, error) {
		t.Helper()
		stages := timing.New()
		_, err := (&action.Build{Project: action.Project{Dir: root, Bundle: fixture.ShapesBundle}, Out: filepath.Join(t.TempDir(), "out"), Cache: cache, Stages: stages}).Run(ctx)
		for _, st := range stages.List() {
			if st.Name == timing.Render {
				return st.Count, err
			}
		}
		return 0, err
	}
	all, err := build()
	if err != nil {
		t.Fatal(err)
	}
	// A harmless change to one chart: only it is rendered.
	fixture.Edit(t, filepath.Join(root, "packages/shapes/spelling/templates/jobs.yaml"), "restartPolicy: Never", "restartPolicy: Never # edited")
	if renders, err := build(); err != nil || renders != 1 {
		t.Errorf("after one chart changed: %d charts rendered (of %d), %v; want 1", renders, all, err)
	}
	// A custom resource typo in shape-files: its CRD comes from shape-crds,
	// which is read from the cache.
	fixture.Edit(t, filepath.Join(root, "packages/shapes/files/templates/server.yaml"), "  version:", "  versoin:")
	if _, err := build(); err == nil || !strings.Contains(err.Error(), `Server "server": spec.versoin: field not declared in schema`) {
		t.Errorf("a custom resource checked against a cached CRD: %v", err)
	}
}
