package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/render/flux"
)

// helmCLI returns the helm binary named by env (make test sets it to a
// CLI built from the Go module proxy); without it the test is skipped,
// with it set but not runnable the test fails.
func helmCLI(t *testing.T, env string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		t.Skipf("%s not set (make test sets it)", env)
	}
	out, err := exec.Command(bin, "version", "--short").CombinedOutput()
	if err != nil {
		t.Fatalf("%s=%s: %v: %s", env, bin, err, out)
	}
	t.Logf("%s: %s", env, strings.TrimSpace(string(out)))
	return bin
}

// The charts distgen packages are accepted by the real helm CLI, v3 and v4:
// lint passes and template renders what distgen rendered.
func TestHelmCLIAcceptsCharts(t *testing.T) {
	out, res := build(t, repoRoot, "demo")
	for _, env := range []string{"DISTGEN_HELM3", "DISTGEN_HELM4"} {
		t.Run(env, func(t *testing.T) {
			bin := helmCLI(t, env)
			home := t.TempDir()
			for _, c := range res.Release.Components {
				tgz := filepath.Join(out, c.Chart.File)
				values := releaseValues(t, out, c.Name, home)
				if b, err := helm(bin, home, "lint", tgz, "-f", values); err != nil {
					t.Errorf("helm lint %s: %v\n%s", c.Chart.File, err, b)
				}
				b, err := helm(bin, home, "template", c.ReleaseName, tgz, "--namespace", c.Namespace, "--include-crds", "-f", values)
				if err != nil {
					t.Errorf("helm template %s: %v\n%s", c.Chart.File, err, b)
					continue
				}
				if !strings.Contains(string(b), "kind: ") {
					t.Errorf("helm template %s rendered no objects:\n%s", c.Chart.File, b)
				}
			}
		})
	}
}

// releaseValues writes the values of a component's HelmRelease, as Flux
// passes them to Helm, into a file under dir.
func releaseValues(t *testing.T, out, component, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "flux", flux.ComponentFile(component)))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "---\n") {
		var hr helmv2.HelmRelease
		if err := yaml.Unmarshal([]byte(doc), &hr); err != nil {
			t.Fatal(err)
		}
		if hr.Kind != helmv2.HelmReleaseKind {
			continue
		}
		values := []byte("{}")
		if hr.Spec.Values != nil {
			values = hr.Spec.Values.Raw
		}
		path := filepath.Join(dir, component+"-values.json")
		if err := os.WriteFile(path, values, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Fatalf("no HelmRelease for %s", component)
	return ""
}
