package tests

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/tests/fixture"
)

// What a chart renders is checked as the API server would take it: a
// misspelt kind, an unknown field, a wrong type, a custom resource of a
// kind nothing defines or whose CRD comes from a component not depended
// on, and a CRD left empty by a .helmignore each fail the build and
// vet --render, naming the component, the template file and the field;
// the build writes nothing.
func TestRenderedObjectsAreValidated(t *testing.T) {
	spelling := "packages/shapes/spelling/templates/jobs.yaml"
	cases := []struct {
		name, file, old, new string
		want                 []string
	}{
		{"misspelt kind", spelling, "kind: Job", "kind: Jobb",
			[]string{`component "shape-spelling"`, `shape-spelling/templates/jobs.yaml: Jobb "a": Kubernetes has no kind Jobb in batch/v1`}},
		{"unknown field", spelling, "restartPolicy: Never", "restartPolicy: Never\n      restartPolicyy: Never",
			[]string{`shape-spelling/templates/jobs.yaml: Job "a": spec.template.spec.restartPolicyy: field not declared in schema`}},
		{"wrong type", spelling, "spec:\n  template:", "spec:\n  parallelism: \"three\"\n  template:",
			[]string{`Job "a": spec.parallelism: expected numeric (int or float), got string`}},
		{"custom resource field", "packages/shapes/files/templates/server.yaml", "  version:", "  versoin:",
			[]string{`component "shape-files"`, `shape-files/templates/server.yaml: Server "server": spec.versoin: field not declared in schema`}},
		{"undefined kind", "packages/shapes/operator/templates/operands.yaml", "apiVersion: v1\nkind: ConfigMap", "apiVersion: shapes.example/v1\nkind: Operand",
			[]string{`component "shape-operator"`, `Operand "operands": the release's CRDs define no Operand in shapes.example/v1`}},
		{"undeclared dependency", "bundles/shapes.cue", `wait: false, dependsOn: ["shape-crds"]`, `wait: false`,
			[]string{`Server is defined by component "shape-crds" (shape-crds/templates/servers.yaml), which "shape-files" does not depend on`}},
		{"CRD emptied by .helmignore", "packages/shapes/crds/templates/servers.yaml", "  group: shapes.example", "  group: {{ .Files.Get \"schemas/group.txt\" | trim }}",
			[]string{`component "shape-crds"`, `shape-crds/templates/servers.yaml: CustomResourceDefinition "servers.shapes.example": spec.group: required, and empty`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := copyProject(t, repoRoot)
			fixture.Shapes(t, root)
			if strings.HasSuffix(c.file, "shapes.cue") {
				// Another component must not satisfy the CRD's order: only files depends on crds here.
				fixture.Edit(t, filepath.Join(root, c.file), `"shape-files": {namespace: "shapes", chart: path: "packages/shapes/files", `+c.old, `"shape-files": {namespace: "shapes", chart: path: "packages/shapes/files", `+c.new)
			} else {
				fixture.Edit(t, filepath.Join(root, c.file), c.old, c.new)
			}
			if strings.Contains(c.name, "helmignore") {
				// The file is in the chart's directory, and ignored.
				fixture.Write(t, filepath.Join(root, "packages/shapes/crds/schemas/group.txt"), "shapes.example\n")
				fixture.Write(t, filepath.Join(root, "packages/shapes/crds/.helmignore"), "schemas/\n")
			}
			out := filepath.Join(t.TempDir(), "out")
			_, err := (&action.Build{Project: action.Project{Dir: root, Bundle: fixture.ShapesBundle}, Out: out}).Run(context.Background())
			if err == nil {
				t.Fatal("build passed")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("build error lacks %q:\n%v", w, err)
				}
			}
			if _, serr := os.Stat(out); !os.IsNotExist(serr) {
				t.Errorf("a failed build left %s", out)
			}
			_, err = (&action.Vet{Dir: root, Render: true, Bundle: fixture.ShapesBundle}).Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want[len(c.want)-1]) {
				t.Errorf("vet --render: %v", err)
			}
		})
	}
	// Unchanged, the shapes build and vet --render passes.
	root := copyProject(t, repoRoot)
	fixture.Shapes(t, root)
	if _, err := (&action.Vet{Dir: root, Render: true, Bundle: fixture.ShapesBundle}).Run(context.Background()); err != nil {
		t.Fatalf("vet --render: %v", err)
	}
	build(t, root, fixture.ShapesBundle)
}

// A first-party chart's values.schema.json (and its subcharts') types the
// component's final values at vet, as Helm would at install: a value the
// bundle sets is reported at its file:line:col, one it does not at the
// component.
func TestValuesSchemaAtVet(t *testing.T) {
	root := copyProject(t, repoRoot)
	fixture.Shapes(t, root)
	fixture.Write(t, filepath.Join(root, "packages/shapes/operator/values.schema.json"), `{
  "type": "object",
  "properties": {
    "replicas": {"type": "integer"},
    "migrateImage": {"type": "string", "pattern": "^[a-z]"}
  }
}`)
	fixture.Write(t, filepath.Join(root, "packages/shapes/wrapper/charts/agent/values.schema.json"), `{
  "type": "object",
  "properties": {"replicas": {"type": "integer", "minimum": 1}}
}`)
	bundle := filepath.Join(root, "bundles/shapes.cue")
	if _, err := (&action.Vet{Dir: root}).Run(context.Background()); err != nil {
		t.Fatalf("values that fit the schemas: %v", err)
	}
	fixture.Edit(t, bundle, `chart: path: "packages/shapes/operator", wait: false`, `chart: path: "packages/shapes/operator", wait: false, values: {
		replicas: "three"
	}`)
	fixture.Edit(t, bundle, `chart: path: "packages/shapes/wrapper", wait: false`, `chart: path: "packages/shapes/wrapper", wait: false, values: agent: replicas: 0`)
	fixture.Edit(t, filepath.Join(root, "packages/shapes/operator/values.yaml"), "migrateImage: ghcr.io", "migrateImage: Ghcr.io")
	_, err := (&action.Vet{Dir: root}).Run(context.Background())
	if err == nil {
		t.Fatal("vet passed")
	}
	line := func(s string) string {
		b, _ := os.ReadFile(bundle)
		for i, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, s) {
				return "bundles/shapes.cue:" + strconv.Itoa(i+1) + ":"
			}
		}
		return "not found: " + s
	}
	for _, want := range []string{
		regexp.QuoteMeta(line(`replicas: "three"`)) + `\d+: ` + regexp.QuoteMeta(`component "shape-operator": values.replicas: got string, want integer (typed by packages/shapes/operator/values.schema.json)`),
		regexp.QuoteMeta(line(`agent: replicas: 0`)) + `\d+: ` + regexp.QuoteMeta(`component "shape-wrapper": values.agent.replicas: minimum: got 0, want 1 (typed by packages/shapes/wrapper/charts/agent/values.schema.json)`),
		regexp.QuoteMeta(`component "shape-operator": values.migrateImage: 'Ghcr.io/shapes/migrate:1.2.0' does not match pattern`) + `.*the bundle does not set it`,
	} {
		if !regexp.MustCompile(want).MatchString(err.Error()) {
			t.Errorf("vet error lacks %s:\n%v", want, err)
		}
	}
}
