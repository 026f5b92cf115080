package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/inventory"
	"github.com/distgen/distgen/tests/fixture"
)

// The full platform catalog builds once its upstream charts are vendored:
// 79 enabled components over 9 dependency levels, wrapper charts carrying
// the upstream charts and the platform values under their names.
func TestPlatformBuildsWithVendoredCharts(t *testing.T) {
	root := copyProject(t, repoRoot)
	if n := fixture.VendorUpstream(t, root); n < 30 {
		t.Fatalf("vendored %d fixture charts, want the catalog's 30+", n)
	}
	out, res := build(t, root, "platform")
	if got := len(res.Release.Components); got != 79 {
		t.Errorf("%d components built, want 79 (87 less 8 optional)", got)
	}
	levels := map[string]int{}
	depth := 0
	for _, c := range res.Release.Components {
		l := 0
		for _, d := range c.DependsOn {
			if _, ok := levels[d]; !ok {
				t.Fatalf("%s is listed before its dependency %s", c.Name, d)
			}
			l = max(l, levels[d]+1)
		}
		levels[c.Name] = l
		depth = max(depth, l+1)
	}
	if depth != 9 {
		t.Errorf("dependency depth %d, want 9", depth)
	}

	// Every image the bundle names in its components' values is in the
	// release's inventory: recall on the images the platform enumerates.
	cue, err := os.ReadFile(filepath.Join(root, "bundles", "platform.cue"))
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`image: \{repository: "([^"]+)", tag: "([^"]+)"\}`).FindAllStringSubmatch(string(cue), -1)
	hits := 0
	for _, m := range named {
		if slices.Contains(res.Release.Images, inventory.Merge([]string{m[1] + ":" + m[2]})[0]) {
			hits++
		} else {
			t.Errorf("the inventory lacks %s:%s", m[1], m[2])
		}
	}
	if len(named) < 10 {
		t.Errorf("found %d image references in platform.cue, want its 12", len(named))
	}
	t.Logf("image recall on the platform bundle's own references: %d/%d", hits, len(named))

	// cilium's values reach the vendored cilium chart through its wrapper.
	tmpl := &action.Template{Project: action.Project{Dir: root, Bundle: "platform"}, Component: "cilium"}
	manifests, err := tmpl.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"charts/cilium/templates/values.yaml", `\"kubeProxyReplacement\":true`, `\"chainingMode\":\"generic-veth\"`} {
		if !strings.Contains(manifests, want) {
			t.Errorf("cilium manifests lack %s:\n%s", want, manifests)
		}
	}

	// The real helm CLIs render a wrapper chart with its vendored dependency.
	for env, bin := range helmCLIs() {
		for _, c := range res.Release.Components {
			if c.Name != "monitoring-agents" && c.Name != "cilium" {
				continue
			}
			b, err := helm(bin, t.TempDir(), "template", c.ReleaseName, filepath.Join(out, c.Chart.File), "--namespace", c.Namespace)
			if err != nil {
				t.Errorf("%s template %s: %v\n%s", env, c.Chart.File, err, b)
			}
			if c.Name == "monitoring-agents" && strings.Count(string(b), "kind: ConfigMap") != 3 {
				t.Errorf("%s: monitoring-agents should render its 3 upstream charts:\n%s", env, b)
			}
		}
	}
}
