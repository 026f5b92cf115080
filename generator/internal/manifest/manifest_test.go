package manifest

import "testing"

// A block-style document's kind, apiVersion and name are read from its
// unindented lines; anything else is left to a parser.
func TestReadHeader(t *testing.T) {
	for doc, want := range map[string]string{
		"apiVersion: v1\nkind: ConfigMap\n":        "ConfigMap",
		"metadata:\n  kind: Nested\nkind: 'Pod'\n": "Pod",
		"{kind: Pod}\n":                             "",
		"kind: &anchor Pod\n":                       "",
		"apiVersion: v1\nkind: Service # comment\n": "",
	} {
		if k := ReadHeader([]byte(doc)).Kind; k != want {
			t.Errorf("ReadHeader(%q).Kind = %q; want %q", doc, k, want)
		}
	}
	h := ReadHeader([]byte("# c\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  labels: {a: b}\n  name: \"web\"\nspec:\n  name: other\n"))
	if want := (Header{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}); h != want || !h.Complete() {
		t.Errorf("ReadHeader = %+v, want %+v", h, want)
	}
}
