package validate

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.io
spec:
  group: example.io
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer}
              color: {type: string, enum: [red, blue]}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v0
    served: false
    storage: false
    schema: {openAPIV3Schema: {type: object}}
`

func messages(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

// Objects of Kubernetes' own kinds are checked against its schema: a
// misspelt kind, an unknown field and a wrong type are each refused with
// the file, the object and the field.
func TestManifestsBuiltin(t *testing.T) {
	split := Manifests(map[string]string{
		"c/templates/ok.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: ok}
spec:
  replicas: 2
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: a, image: "x:1", ports: [{containerPort: 80}]}]}
---
# only a comment
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{port: 80, targetPort: http}]}
`,
		"c/templates/bad.yaml": `apiVersion: apps/v1
kind: Deploymnet
metadata: {name: typo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: unknown}
spec: {replicaz: 3}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: wrongtype}
spec: {replicas: "three"}
---
apiVersion: example.io/v1
kind: Widget
metadata: {name: w}
---
metadata: {name: nokind}
`,
		"c/crds/widgets.yaml": widgetCRD,
	})
	got := messages(split.Errs)
	for _, want := range []string{
		`c/templates/bad.yaml: Deploymnet "typo": Kubernetes has no kind Deploymnet in apps/v1`,
		`c/templates/bad.yaml: Deployment "unknown": spec.replicaz: field not declared in schema`,
		`c/templates/bad.yaml: Deployment "wrongtype": spec.replicas: expected numeric (int or float), got string`,
		`c/templates/bad.yaml:  "nokind": an object needs apiVersion and kind`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	if len(split.Errs) != 4 {
		t.Errorf("%d errors, want 4:\n%s", len(split.Errs), got)
	}
	if len(split.CRDs) != 1 || split.CRDs[0].Name != "widgets.example.io" || len(split.Custom) != 1 || split.Custom[0].GVK.Kind != "Widget" {
		t.Errorf("CRDs %v, custom %v", split.CRDs, split.Custom)
	}
}

// Custom resources are checked against the CRD the release installs,
// as the API server checks them on create; a kind no CRD defines, one
// whose CRD comes from a component not depended on, and a version not
// served are refused.
func TestReleaseCheck(t *testing.T) {
	r := NewRelease()
	split := Manifests(map[string]string{"w/crds/widgets.yaml": widgetCRD})
	crd, errs := ParseCRD(split.CRDs[0])
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := r.AddCRD("widgets", crd); err != nil {
		t.Fatal(err)
	}
	none := func(schema.GroupVersionKind) bool { return false }
	cases := map[string]string{
		"spec: {size: 3, color: red, extra: {any: thing}}": "",
		"spec: {size: 3, colour: red}":                     `spec.colour: field not declared in schema`,
		"spec: {size: three, color: green}":                `spec.color: Unsupported value: "green": supported values: "red", "blue"`,
		"spec: {color: red}":                               `spec.size: Required value`,
		"spec: {size: 1}\n---\n":                           "",
	}
	for body, want := range cases {
		objs := Manifests(map[string]string{"app/templates/w.yaml": "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w}\n" + body})
		got := messages(r.Check("app", map[string]bool{"widgets": true}, objs.Custom[0], none))
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want %q", body, got, want)
		}
	}
	check := func(doc, component string, deps map[string]bool, external func(schema.GroupVersionKind) bool) string {
		objs := Manifests(map[string]string{"app/templates/x.yaml": doc})
		return messages(r.Check(component, deps, objs.Custom[0], external))
	}
	w := "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n"
	if got := check(w, "app", nil, none); !strings.Contains(got, `Widget is defined by component "widgets" (w/crds/widgets.yaml), which "app" does not depend on`) {
		t.Errorf("undeclared dependency: %q", got)
	}
	if got := check(w, "widgets", nil, none); got != "" {
		t.Errorf("own CRD: %q", got)
	}
	if got := check("apiVersion: example.io/v0\nkind: Widget\nmetadata: {name: w}\n", "widgets", nil, none); !strings.Contains(got, "version v0 of Widget.example.io is not served") {
		t.Errorf("unserved: %q", got)
	}
	if got := check("apiVersion: example.io/v1\nkind: Gadget\nmetadata: {name: g}\n", "app", nil, none); !strings.Contains(got, "the release's CRDs define no Gadget in example.io/v1") {
		t.Errorf("unknown kind in a known group: %q", got)
	}
	other := "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m}\n"
	if got := check(other, "app", nil, none); !strings.Contains(got, "no CRD in the release defines monitoring.coreos.com/v1 ServiceMonitor") {
		t.Errorf("unknown kind: %q", got)
	}
	if got := check(other, "app", nil, func(gvk schema.GroupVersionKind) bool { return gvk.Group == "monitoring.coreos.com" }); got != "" {
		t.Errorf("external kind: %q", got)
	}
	// A CRD that is not one.
	bad := Manifests(map[string]string{"b/crds/bad.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: bad}\nspec: {group: x.io, nmes: {}}\n"})
	if _, errs := ParseCRD(bad.CRDs[0]); len(errs) == 0 || !strings.Contains(errs[0].Error(), `not a CustomResourceDefinition of apiextensions.k8s.io/v1: unknown field "nmes"`) {
		t.Errorf("bad CRD: %v", errs)
	}
}
