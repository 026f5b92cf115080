package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/plan"
)

// lintCases are charts with each finding Helm's lint makes (keyed by what
// they hold), as files.
var lintCases = map[string]map[string]string{
	"clean": {
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  a: {{ .Values.a | quote }}\n",
	},
	"a template of another extension": {
		"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
		"templates/raw.json": "{}\n",
	},
	"an indented first line": {
		"templates/cm.yaml": "  \n   apiVersion: v1\n   kind: ConfigMap\n   metadata:\n     name: cm\n",
	},
	"names the API server refuses": {
		"templates/objs.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1-svc\nspec:\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Upper_Case\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: a/b\n",
	},
	"a deprecated API": {
		"templates/fs.yaml": "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata:\n  name: fs\nspec:\n  priorityLevelConfiguration: {name: global-default}\n",
	},
	"a Deployment without a selector": {
		"templates/dep.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: a}]\n",
	},
	"a List with a resource policy": {
		"templates/list.yaml": "apiVersion: v1\nkind: List\nmetadata:\n  name: l\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: x\n      annotations:\n        helm.sh/resource-policy: keep\n",
	},
	"a document that is not YAML": {
		"templates/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\nkey: [unclosed\n",
	},
	"JSON and flow style": {
		"templates/cm.yaml": "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"Bad_Name\"}}\n",
	},
	"a document without apiVersion, kind or name": {
		"templates/odd.yaml": "foo: bar\n---\n# a comment\n---\n{}\n",
	},
	"no templates": {
		"values.yaml": "a: 1\n",
	},
	"an undeclared subchart and a missing one": {
		"Chart.yaml":                     "apiVersion: v2\nname: lintme\nversion: 0.1.0\ndependencies:\n  - name: absent\n    version: 1.0.0\n    repository: https://charts.example.invalid\n",
		"charts/sub/Chart.yaml":          "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
		"charts/sub/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\n",
		"templates/cm.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\n",
		"charts/sub/crds/not-a-crd.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: in-crds\n",
	},
	"a crds directory of other objects": {
		"crds/mixed.yaml":   "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: as.example.io\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n---\n# nothing\n---\n{}\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\n",
	},
	"clean: Chart.yaml with only information": {
		"Chart.yaml":        "apiVersion: v2\nname: lintme\nversion: 0.1.0\nicon: http://example.invalid/icon.png\ntype: application\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\n",
	},
	"values against a schema": {
		"values.schema.json": `{"type": "object", "properties": {"a": {"type": "string"}}}`,
		"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\n",
	},
	"clean: empty documents and comments": {
		"templates/cm.yaml":   "# only a comment\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\n---\n# trailing\n",
		"templates/none.yaml": "{{- if false }}\nnever: rendered\n{{- end }}\n",
		"templates/_h.tpl":    "{{- define \"x\" }}{{ end }}\n",
		"templates/NOTES.txt": "installed\n",
	},
}

// The lint distgen runs on its one render finds what Helm's own lint
// (lint.RunAll, which loads the chart three more times and renders it
// again) finds, message for message, on charts with each of Helm's
// findings and on the repository's own charts.
func TestLintMatchesHelm(t *testing.T) {
	type tc struct {
		dir    string
		values map[string]any
	}
	cases := map[string]tc{}
	for name, files := range lintCases {
		dir := filepath.Join(t.TempDir(), "lintme")
		if _, ok := files["Chart.yaml"]; !ok {
			files["Chart.yaml"] = "apiVersion: v2\nname: lintme\nversion: 0.1.0\n"
		}
		for p, body := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		values := map[string]any{"a": "x"}
		if name == "values against a schema" {
			values["a"] = 3
		}
		cases[name] = tc{dir, values}
	}
	// Charts shaped like a real platform's: helpers, tpl, vendored
	// subcharts declared and not, library charts, CRDs in crds/ and in
	// templates/, 147 template files.
	real := t.TempDir()
	if err := catalog.WriteOptions(real, catalog.Options{N: 50, Seed: 1, Shape: catalog.Real}); err != nil {
		t.Fatal(err)
	}
	for _, parent := range []string{"../../../packages/system", "../../../packages/apps", filepath.Join(real, "packages", "system")} {
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			cases[e.Name()] = tc{filepath.Join(parent, e.Name()), nil}
		}
	}
	kv, err := common.ParseKubeVersion(DefaultKubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir, err := filepath.Abs(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			want := messages(lint.RunAll(dir, plan.Clone(tc.values), "ns", lint.WithKubeVersion(kv)), dir)
			c, err := loader.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			ch := &Chart{loaded: c, caps: caps, asIs: true}
			b := DefaultBounds
			r, err := ch.render(c, b, time.Now().Add(b.Timeout), "test-release", "ns", tc.values)
			if err != nil {
				// A chart that does not render fails the build; Helm's
				// lint says so at templates/.
				// Helm's lint, which renders with required values
				// softened, need not; repository charts are given
				// their values by the bundles.
				if strings.Contains(err.Error(), "is required") && tc.values == nil {
					t.Skipf("render: %v", err)
				}
				if !slices.ContainsFunc(want, func(m string) bool { return strings.HasPrefix(m, "error ") }) {
					t.Fatalf("render: %v, and Helm's lint found no error: %q", err, want)
				}
				return
			}
			got := messages(lintChart(dir, c, plan.Clone(tc.values), r.manifests, kv), dir)
			if !slices.Equal(got, want) {
				t.Errorf("lint on the one render:\n  %s\nHelm's lint:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if !strings.HasPrefix(name, "clean") && len(lintCases[name]) > 0 && len(want) == 0 {
				t.Errorf("Helm's lint finds nothing in %q: the case does not test a finding", name)
			}
		})
	}
}

// messages are a linter's findings of warning severity and above (what a
// build reports), as "severity path: message", in order.
func messages(l support.Linter, dir string) []string {
	var out []string
	for _, m := range l.Messages {
		if m.Severity < support.WarningSev {
			continue
		}
		sev := "warning"
		if m.Severity >= support.ErrorSev {
			sev = "error"
		}
		out = append(out, fmt.Sprintf("%s %s: %v", sev, strings.TrimPrefix(m.Path, dir), m.Err))
	}
	return out
}
