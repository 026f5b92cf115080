package load

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/distgen/distgen/generator/api"
)

// Values read from the cache are exactly what Helm's parse gives, a
// damaged entry is a miss, and an entry is read (one planted in the cache
// comes out).
func TestValuesCache(t *testing.T) {
	docs := []string{
		"a: 1\nb: 1.5\nc: 12345678901234567890\nd: null\ne: [1, two, {three: 3}]\nf: {}\ng: []\n",
		"# comment only\nname: \"<&> ünïcode \\u2028\"\nbig: 1e400\nneg: -0\nbool: yes\nempty: ''\n",
		"a: 1\n---\nb: {c: 2}\n---\na: {x: 1}\n",
		"anchors: &x {k: v}\nref: *x\nmulti: |\n  line one\n  line two\n",
	}
	parse := func(cache string) []map[string]any {
		t.Helper()
		comps := make([]*api.Component, len(docs))
		var files []valuesFile
		for i, d := range docs {
			comps[i] = &api.Component{Name: "c", FileValues: []map[string]any{nil}}
			files = append(files, valuesFile{c: comps[i], index: 0, shown: "values.yaml", data: []byte(d)})
		}
		for i, errs := range parseValues(files, cache) {
			if len(errs) > 0 {
				t.Fatalf("doc %d: %v", i, errs)
			}
		}
		out := make([]map[string]any, len(docs))
		for i, c := range comps {
			out[i] = c.FileValues[0]
		}
		return out
	}
	want := parse("")
	cache := t.TempDir()
	if cold := parse(cache); !reflect.DeepEqual(cold, want) {
		t.Fatalf("cold cache: %v\nwant %v", cold, want)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "*", "*.json"))
	if len(entries) != len(docs) {
		t.Fatalf("%d entries, want %d", len(entries), len(docs))
	}
	if warm := parse(cache); !reflect.DeepEqual(warm, want) {
		t.Fatalf("warm cache: %v\nwant %v", warm, want)
	}
	for _, e := range entries {
		if err := os.WriteFile(e, []byte(`{"planted": true}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range parse(cache) {
		if v["planted"] != true {
			t.Errorf("doc %d was parsed again, not read from the cache: %v", i, v)
		}
	}
	for _, e := range entries {
		if err := os.WriteFile(e, []byte(`{"damaged`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if damaged := parse(cache); !reflect.DeepEqual(damaged, want) {
		t.Fatalf("damaged entries: %v\nwant %v", damaged, want)
	}
}
