package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distgen/distgen/generator/action"
)

// The schemas published as a CUE module are what the real cue CLI fetches
// with cue mod get from that registry: a project of the user's own that
// depends on the module and imports github.com/distgen/distgen/schemas is
// checked by cue vet against them, a good versions document taken and a
// bad one refused.
func TestSchemasModule(t *testing.T) {
	cue := os.Getenv("DISTGEN_CUE")
	if cue == "" {
		t.Skip("DISTGEN_CUE is not set (make test sets it)")
	}
	host := newRegistry(t, nil)
	res, err := (&action.PublishSchemas{To: "oci://" + host + "/cue", Version: "v0.3.0", PlainHTTP: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != host+"/cue/github.com/distgen/distgen:v0.3.0" {
		t.Errorf("published as %s", res.Ref)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cue.mod/module.cue", "module: \"example.com/platform@v0\"\nlanguage: version: \"v0.12.0\"\n")
	write("versions.cue", "package platform\n\nimport \"github.com/distgen/distgen/schemas\"\n\nversions: schemas.#Versions & {\n\tdistribution: \"1.0.0\"\n\treleaseDate:  \"2026-12-06T00:00:00Z\"\n\tcomponents: web: chart: \"0.1.0\"\n}\n")
	env := append(os.Environ(), "CUE_REGISTRY="+host+"/cue+insecure", "CUE_CACHE_DIR="+t.TempDir())
	run := func(args ...string) (string, error) {
		cmd := exec.Command(cue, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("mod", "get", "github.com/distgen/distgen@v0.3.0"); err != nil {
		t.Fatalf("cue mod get: %v\n%s", err, out)
	}
	if mod := mustRead(t, filepath.Join(dir, "cue.mod", "module.cue")); !strings.Contains(mod, `"github.com/distgen/distgen@v0"`) || !strings.Contains(mod, `"v0.3.0"`) {
		t.Fatalf("cue mod get did not record the dependency:\n%s", mod)
	}
	if out, err := run("vet", "-c", "."); err != nil {
		t.Fatalf("cue vet against the published schemas: %v\n%s", err, out)
	}
	write("versions.cue", strings.Replace(mustRead(t, filepath.Join(dir, "versions.cue")), `"1.0.0"`, `"v1"`, 1))
	if out, err := run("vet", "-c", "."); err == nil || !strings.Contains(out, "distribution") {
		t.Errorf("cue vet took a bad version: %v\n%s", err, out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
