package plan

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/distgen/distgen/generator/api"
)

func TestMergeMatchesHelm(t *testing.T) {
	cases := []struct{ a, b map[string]any }{
		{nil, map[string]any{"x": 1.0}},
		{map[string]any{"x": 1.0}, nil},
		{map[string]any{"x": map[string]any{"y": 1.0, "z": 2.0}}, map[string]any{"x": map[string]any{"y": 3.0}}},
		{map[string]any{"x": map[string]any{"y": 1.0}}, map[string]any{"x": "scalar wins"}},
		{map[string]any{"x": "scalar"}, map[string]any{"x": map[string]any{"map": "wins"}}},
		{map[string]any{"l": []any{1.0, 2.0}}, map[string]any{"l": []any{3.0}}},
		{map[string]any{"n": "set"}, map[string]any{"n": nil}},
		{map[string]any{"a": map[string]any{"b": map[string]any{"c": 1.0, "d": 2.0}}}, map[string]any{"a": map[string]any{"b": map[string]any{"d": 4.0, "e": 5.0}}}},
	}
	for i, c := range cases {
		want := loader.MergeMaps(orEmpty(c.a), orEmpty(c.b))
		if got := Merge(c.a, c.b); !reflect.DeepEqual(got, want) {
			t.Errorf("case %d: Merge = %v, Helm = %v", i, got, want)
		}
	}
	a := map[string]any{"x": map[string]any{"y": 1.0}}
	Merge(a, map[string]any{"x": map[string]any{"y": 2.0}})
	if a["x"].(map[string]any)["y"] != 1.0 {
		t.Error("Merge changed its input")
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func comp(name, ns string, deps ...string) *api.Component {
	return &api.Component{Name: name, Namespace: ns, ReleaseName: name, Version: "1.0.0", Enabled: true, DependsOn: deps, Values: map[string]any{}}
}

func TestBuild(t *testing.T) {
	b := &api.Bundle{Name: "t", Components: []*api.Component{
		comp("zeta", "ns1"),
		comp("alpha", "ns2", "zeta"),
		comp("beta", "ns1", "zeta"),
		comp("gamma", "ns2", "alpha", "beta"),
		comp("off", "ns3"),
	}}
	b.Components[2].Privileged = true
	b.Components[4].Enabled = false
	b.Components[3].FileValues = []map[string]any{{"a": 1.0, "m": map[string]any{"x": 1.0}}, {"m": map[string]any{"y": 2.0}}}
	b.Components[3].Values = map[string]any{"a": 3.0}

	p, err := Build(b)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range p.Steps {
		order = append(order, s.Component.Name)
	}
	if want := []string{"zeta", "alpha", "beta", "gamma"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if p.Depth() != 3 {
		t.Errorf("depth %d, want 3", p.Depth())
	}
	g := p.Step("gamma")
	if want := []Ref{{"alpha", "ns2"}, {"beta", "ns1"}}; !reflect.DeepEqual(g.DependsOn, want) {
		t.Errorf("gamma depends on %v, want %v", g.DependsOn, want)
	}
	if want := map[string]any{"a": 1.0, "m": map[string]any{"x": 1.0, "y": 2.0}}; !reflect.DeepEqual(g.ChartValues, want) {
		t.Errorf("chart values %v, want %v", g.ChartValues, want)
	}
	if want := map[string]any{"a": 3.0, "m": map[string]any{"x": 1.0, "y": 2.0}}; !reflect.DeepEqual(g.Final(), want) {
		t.Errorf("final values %v, want %v", g.Final(), want)
	}
	want := []Namespace{
		{Name: "ns1", Privileged: true, PodSecurity: api.PodSecurityPrivileged, Components: []string{"beta", "zeta"}},
		{Name: "ns2", Components: []string{"alpha", "gamma"}},
	}
	if !reflect.DeepEqual(p.Namespaces, want) {
		t.Errorf("namespaces %+v, want %+v", p.Namespaces, want)
	}

	again, err := Build(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, again) {
		t.Error("two plans of one bundle differ")
	}
}

func TestBuildRefusesBrokenGraphs(t *testing.T) {
	cyclic := &api.Bundle{Name: "t", Components: []*api.Component{comp("a", "n", "b"), comp("b", "n", "a")}}
	if _, err := Build(cyclic); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: got %v", err)
	}
	off := comp("b", "n")
	off.Enabled = false
	dangling := &api.Bundle{Name: "t", Components: []*api.Component{comp("a", "n", "b"), off}}
	if _, err := Build(dangling); err == nil || !strings.Contains(err.Error(), `depends on "b"`) {
		t.Errorf("disabled dependency: got %v", err)
	}
}

// plan and api must stay free of network code: they decide, others do I/O.
func TestNoNetworkImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/distgen/distgen/generator/plan", "github.com/distgen/distgen/generator/api").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "net" || strings.HasPrefix(pkg, "net/") || pkg == "crypto/tls" {
			t.Errorf("plan or api imports %s", pkg)
		}
	}
}
