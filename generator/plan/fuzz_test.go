package plan

import (
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// Merging two values documents (a chart's defaults, then the bundle's
// values) as YAML decodes them: the result holds every path of b as b
// has it (maps merged key by key, anything else replaced), every path of
// a that b does not set, and neither input is changed.
func FuzzMergeValues(f *testing.F) {
	f.Add("image: {repository: app, tag: '1.0'}\nreplicas: 1\nlist: [1, 2]\n", "image: {tag: '2.0'}\nlist: [3]\n")
	f.Add("a: {b: {c: 1}}\n", "a: {b: null}\n")
	f.Add("a: 1\n", "a: {b: 2}\n")
	f.Add("", "x: [ {y: 1} ]\n")
	f.Fuzz(func(t *testing.T, as, bs string) {
		var a, b map[string]any
		if yaml.Unmarshal([]byte(as), &a) != nil || yaml.Unmarshal([]byte(bs), &b) != nil {
			return
		}
		a0, b0 := Clone(a), Clone(b)
		m := Merge(a, b)
		if !reflect.DeepEqual(a, a0) && !(len(a) == 0 && len(a0) == 0) {
			t.Fatal("Merge changed its first argument")
		}
		if !reflect.DeepEqual(b, b0) && !(len(b) == 0 && len(b0) == 0) {
			t.Fatal("Merge changed its second argument")
		}
		check(t, "", a, b, m)
	})
}

// check holds merged m to a and b under path.
func check(t *testing.T, path string, a, b, m map[string]any) {
	t.Helper()
	for k, bv := range b {
		bm, bMap := bv.(map[string]any)
		am, aMap := a[k].(map[string]any)
		mm, mMap := m[k].(map[string]any)
		switch {
		case bMap && aMap:
			if !mMap {
				t.Fatalf("%s%s: two maps merged into %T", path, k, m[k])
			}
			check(t, path+k+".", am, bm, mm)
		case !reflect.DeepEqual(m[k], bv):
			t.Fatalf("%s%s: %v, b sets %v", path, k, m[k], bv)
		}
	}
	for k, av := range a {
		if _, ok := b[k]; !ok && !reflect.DeepEqual(m[k], av) {
			t.Fatalf("%s%s: %v, a sets %v and b nothing", path, k, m[k], av)
		}
	}
	for k := range m {
		if _, inA := a[k]; !inA {
			if _, inB := b[k]; !inB {
				t.Fatalf("%s%s: in the result, in neither input", path, k)
			}
		}
	}
}
