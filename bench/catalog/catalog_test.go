package catalog

import (
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/distgen/distgen/tests/fixture"
)

// The same seed writes the same bytes; the shape is the reference's: nine
// levels, large CRD charts one in LargeEvery, five hubs with most of the
// dependencies.
func TestCatalogShape(t *testing.T) {
	const n = 200
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for dir, seed := range map[string]uint64{a: 3, b: 3, c: 4} {
		if err := Write(dir, n, seed); err != nil {
			t.Fatal(err)
		}
	}
	ta, tb, tc := fixture.Read(t, a), fixture.Read(t, b), fixture.Read(t, c)
	if len(ta) != len(tb) {
		t.Fatalf("%d files, then %d", len(ta), len(tb))
	}
	for name, data := range ta {
		if !bytes.Equal(data, tb[name]) {
			t.Errorf("%s differs between two writes with one seed", name)
		}
	}
	if bytes.Equal(ta["bundles/bench.cue"], tc["bundles/bench.cue"]) {
		t.Error("another seed wrote the same bundle")
	}

	large := 0
	for name, data := range ta {
		if filepath.Base(name) == "crds.yaml" {
			if len(data) < 2<<20 {
				t.Errorf("%s: %d bytes, want several MB", name, len(data))
			}
			large++
		}
	}
	if large != n/LargeEvery {
		t.Errorf("%d large charts, want %d", large, n/LargeEvery)
	}

	deps := map[string][]string{}
	comp := regexp.MustCompile(`(?m)^\t(c\d{4}): \{\n(?:\t\t.*\n)*?\t\}`)
	dep := regexp.MustCompile(`"(c\d{4})"`)
	on := regexp.MustCompile(`dependsOn: \[(.*)\]`)
	for _, m := range comp.FindAllStringSubmatch(string(ta["bundles/bench.cue"]), -1) {
		deps[m[1]] = nil
		if d := on.FindStringSubmatch(m[0]); d != nil {
			for _, x := range dep.FindAllStringSubmatch(d[1], -1) {
				deps[m[1]] = append(deps[m[1]], x[1])
			}
		}
	}
	if len(deps) != n {
		t.Fatalf("%d components in the bundle, want %d", len(deps), n)
	}
	depth := map[string]int{}
	var level func(string) int
	level = func(c string) int {
		if d, ok := depth[c]; ok {
			return d
		}
		d := 0
		for _, x := range deps[c] {
			d = max(d, level(x)+1)
		}
		depth[c] = d
		return d
	}
	deepest, edges, toHubs := 0, 0, 0
	for c, ds := range deps {
		deepest = max(deepest, level(c))
		edges += len(ds)
		for _, x := range ds {
			if x <= "c0004" {
				toHubs++
			}
		}
	}
	if deepest != Levels-1 {
		t.Errorf("dependency depth %d, want %d", deepest, Levels-1)
	}
	if toHubs*3 < edges {
		t.Errorf("%d of %d dependencies on the five hubs, want a third or more", toHubs, edges)
	}
}

// A real-shaped catalog of 100 has the figures of the reference platform's
// 91 charts, scaled: sizes, template bytes, the largest CRD file in
// templates/, the chart with 147 template files, vendored subcharts
// declared and not, library charts and the median chart; one seed writes
// the same bytes, and the dependency graph is the simple shape's.
func TestRealShape(t *testing.T) {
	a, b, simple := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := WriteOptions(dir, Options{N: 100, Seed: 1, Shape: Real}); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteOptions(simple, Options{N: 100, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	ta, tb := fixture.Read(t, a), fixture.Read(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("%d files, then %d", len(ta), len(tb))
	}
	for name, data := range ta {
		if !bytes.Equal(data, tb[name]) {
			t.Errorf("%s differs between two writes with one seed", name)
		}
	}
	on := regexp.MustCompile(`dependsOn: .*`)
	if x, y := on.FindAllString(string(ta["bundles/bench.cue"]), -1), on.FindAllString(string(fixture.Read(t, simple)["bundles/bench.cue"]), -1); !slices.Equal(x, y) {
		t.Error("the real shape's dependency graph is not the simple shape's")
	}
	s, err := Measure(a)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(s)
	within := func(what string, got, lo, hi float64) {
		if got < lo || got > hi {
			t.Errorf("%s = %v, want %v to %v", what, got, lo, hi)
		}
	}
	// The reference: 91 charts, 34.8 MB, 14.8 MB templates, the largest
	// CRD file in templates/ 4.4 MB, 147 template files in one chart, 28
	// with vendored subcharts, the median chart 50 KB with 3 templates.
	within("MB of chart sources", float64(s.Bytes)/1e6, 30, 45)
	within("MB of templates", float64(s.TemplateBytes)/1e6, 13, 19)
	within("MB of the largest CRD file in templates/", float64(s.LargestTemplatesCRD)/1e6, 4.3, 4.7)
	within("MB in crds/", float64(s.CRDDirBytes)/1e6, 1, 10)
	within("most template files", float64(s.MostTemplates), 147, 147)
	within("vendored", float64(s.Vendored), 25, 35)
	within("median KB", float64(s.MedianBytes)/1e3, 40, 65)
	within("median templates", float64(s.MedianTemplates), 3, 3)
	if s.Declared == 0 || s.Declared == s.Vendored || s.Library == 0 {
		t.Errorf("vendored %d, declared %d, with a library chart %d: want both kinds and some library charts", s.Vendored, s.Declared, s.Library)
	}
}
