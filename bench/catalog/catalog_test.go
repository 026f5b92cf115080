package catalog

import (
	"bytes"
	"path/filepath"
	"regexp"
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
