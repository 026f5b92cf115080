package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distgen/distgen/tests/fixture"
)

// One exit-code rule for every command: 1 when the user's input is wrong
// (flags, references, the project), 2 for everything else (the network,
// the file system, a registry that is down). Each command is run once
// with a mistake of the user's and, where it reaches a machine, once
// against one that fails.
func TestExitCodes(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "exit-codes")
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", "testdata/base", "--out", out)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	underFile := filepath.Join(file, "x")
	empty := t.TempDir()
	keys := filepath.Join(t.TempDir(), "k")
	mustRun(t, "keygen", "--output-key-prefix", keys)
	// Nothing listens on port 1: the connection is refused.
	const dead = "127.0.0.1:1"
	deadRef := "oci://" + dead + "/p/bundles/test:1.2.3"
	upstreamDown := fixture.Copy(t, "testdata/base")
	edit(t, filepath.Join(upstreamDown, "bundles/test.cue"), "\topt: {", "\twrapped: {\n\t\tnamespace: \"ns-w\"\n\t\tchart: upstream: [{repository: \"https://"+dead+"/charts\", name: \"podinfo\"}]\n\t}\n\topt: {")

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"init", "testdata/base"}, exitUser},
		{[]string{"init", underFile}, exitInternal},
		{[]string{"schema", "#NoSuchThing"}, exitUser},
		{[]string{"vet", "-C", empty}, exitUser},
		{[]string{"build", "-C", "testdata/base", "--bundle", "nope"}, exitUser},
		{[]string{"build", "-C", "testdata/base", "--out", underFile}, exitInternal},
		{[]string{"template", "nope", "-C", "testdata/base"}, exitUser},
		{[]string{"images", "-C", empty}, exitUser},
		{[]string{"talos-profile", "-C", "testdata/base"}, exitUser},
		{[]string{"graph", "--format", "png", "-C", "testdata/base"}, exitUser},
		{[]string{"vendor", "-C", empty}, exitUser},
		{[]string{"vendor", "-C", upstreamDown}, exitInternal},
		{[]string{"push", "--from", out, "--to", "ftp://x"}, exitUser},
		{[]string{"push", "--from", out, "--to", "oci://" + dead + "/p", "--plain-http"}, exitInternal},
		{[]string{"push", "--from", out, "--to", "oci-layout:" + underFile}, exitInternal},
		{[]string{"bootstrap", "--from", "https://x/bundles/test:1.2.3"}, exitUser},
		{[]string{"bootstrap", "--from", deadRef, "--plain-http"}, exitInternal},
		{[]string{"serve", empty, "--addr", "0.0.0.0:0"}, exitUser},
		{[]string{"mirror", "--from", out, "--to", "oci-layout:" + t.TempDir()}, exitUser},
		{[]string{"mirror", "--from", deadRef, "--to", "oci-layout:" + t.TempDir(), "--plain-http"}, exitInternal},
		{[]string{"keygen", "--output-key-prefix", underFile}, exitInternal},
		{[]string{"sign", "--key", filepath.Join(empty, "none.key"), deadRef}, exitUser},
		{[]string{"sign", "--key", keys + ".key", deadRef, "--plain-http"}, exitInternal},
		{[]string{"verify", "--key", keys + ".pub", "--from", "ftp://x"}, exitUser},
		{[]string{"verify", "--key", keys + ".pub", "--from", deadRef, "--plain-http"}, exitInternal},
		{[]string{"inspect", "ftp://x"}, exitUser},
		{[]string{"inspect", deadRef, "--plain-http"}, exitInternal},
		{[]string{"promote", "--from", "ftp://x", "--to", "oci://" + dead + "/q"}, exitUser},
		{[]string{"promote", "--from", deadRef, "--to", "oci://" + dead + "/q", "--tag", "1.2.3", "--plain-http"}, exitInternal},
		{[]string{"bump", "nope", "--chart", "1.0.0", "-C", fixture.Copy(t, "testdata/base")}, exitUser},
		{[]string{"outdated", "-C", upstreamDown, "--exit-code"}, exitInternal},
		{[]string{"diff", empty, out}, exitUser},
		{[]string{"diff", deadRef, out, "--plain-http"}, exitInternal},
		{[]string{"report", empty}, exitUser},
		{[]string{"report", deadRef, "--plain-http"}, exitInternal},
		{[]string{"tenant", "build", "-C", empty}, exitUser},
		{[]string{"tenant", "push", "--dir", empty, "--to", "oci://" + dead + "/p", "--plain-http"}, exitUser},
		{[]string{"tenant", "bootstrap", "--from", "oci://" + dead + "/p/tenants/x:1.0.0", "--plain-http"}, exitInternal},
		{[]string{"dev", "up", "--name", "Not_A_Label"}, exitUser},
		{[]string{"dev", "up", "--cluster-registry", "kind-registry:5000"}, exitUser},
		{[]string{"dev", "up", "--registry", "Not A Registry"}, exitUser},
		{[]string{"dev", "up", "--registry-ca", filepath.Join(empty, "ca.crt")}, exitUser},
		{[]string{"dev", "down", "--name", "never-made-" + filepath.Base(empty)}, exitUser},
		{[]string{"completion", "bash", "extra"}, exitUser},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code {
			t.Errorf("distgen %s: exit %d, want %d: %s", strings.Join(tc.args, " "), code, tc.code, errOut)
		}
	}
}
