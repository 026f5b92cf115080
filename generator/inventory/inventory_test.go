package inventory

import (
	"reflect"
	"testing"
)

// Documents of kinds that name no images are skipped unparsed; every way of
// writing a workload is still read.
func TestFromManifestsKinds(t *testing.T) {
	manifests := map[string]string{
		"c/templates/crds.yaml": `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: xs.example.io}
spec:
  versions:
  - name: v1
    schema: {openAPIV3Schema: {description: "image: not-an-image:1"}}
`,
		"c/templates/deploy.yaml": `# a comment-only document
---
apiVersion: apps/v1
kind: "Deployment"
metadata: {name: d}
spec:
  template:
    spec:
      containers: [{name: a, image: "block:1"}]
---
{kind: Pod, apiVersion: v1, metadata: {name: p}, spec: {containers: [{name: a, image: "flow:1"}]}}
---
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}, "spec": {"initContainers": [{"name": "i", "image": "json:1"}]}}
`,
	}
	got, err := FromManifests(manifests)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"block:1", "flow:1", "json:1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("images %v, want %v", got, want)
	}
	for doc, want := range map[string]string{
		"apiVersion: v1\nkind: ConfigMap\n":        "ConfigMap",
		"metadata:\n  kind: Nested\nkind: 'Pod'\n": "Pod",
		"{kind: Pod}\n":                             "",
		"kind: &anchor Pod\n":                       "",
		"apiVersion: v1\nkind: Service # comment\n": "",
	} {
		k, ok := topLevelKind([]byte(doc))
		if k != want || ok != (want != "") {
			t.Errorf("topLevelKind(%q) = %q, %t; want %q", doc, k, ok, want)
		}
	}
}
