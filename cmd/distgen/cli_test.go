package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/google/go-containerregistry/pkg/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/tests/fixture"
)

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("distgen %v: exit %d\n%s", args, code, errOut)
	}
	return out
}

func TestVersion(t *testing.T) {
	var v versionInfo
	if err := json.Unmarshal([]byte(mustRun(t, "version", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version == "" || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("version info %+v", v)
	}
	if out := mustRun(t, "version"); !strings.HasPrefix(out, "distgen ") {
		t.Errorf("version text %q", out)
	}
}

func TestVet(t *testing.T) {
	out := mustRun(t, "vet", "-C", "testdata/base")
	if want := "ok  bundle test 1.2.3: 4 components (3 enabled) in 2 namespaces, 3 dependency levels\n"; out != want {
		t.Errorf("vet printed %q, want %q", out, want)
	}
	var res []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "vet", "-C", "testdata/base", "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0]["name"] != "test" || res[0]["levels"] != 3.0 {
		t.Errorf("vet -o json: %v", res)
	}
	// From a directory below the project root, the root is found.
	mustRun(t, "vet", "-C", "testdata/base/packages/system/app")
}

func TestBuildOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dist")
	stdout := mustRun(t, "build", "-C", "testdata/base", "--out", out, "-o", "json")
	var printed api.Release
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil {
		t.Fatal(err)
	}
	var written api.Release
	b, err := os.ReadFile(filepath.Join(out, "release.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &written); err != nil {
		t.Fatal(err)
	}
	if printed.Artifact.Digest == "" || printed.Artifact.Digest != written.Artifact.Digest || len(written.Components) != 3 {
		t.Errorf("printed %+v, wrote %+v", printed.Artifact, written.Artifact)
	}
	// A second build replaces the first one's output.
	text := mustRun(t, "build", "-C", "testdata/base", "--out", out)
	if !strings.Contains(text, "bundle  bundles/test:1.2.3") || !strings.Contains(text, written.Artifact.Digest) {
		t.Errorf("build text output:\n%s", text)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("build left %d entries beside its output", len(entries))
	}
}

// --timings prints each stage's time on stderr; stdout keeps the data.
func TestBuildTimings(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dist")
	code, stdout, stderr := runCLI(t, "build", "-C", "testdata/base", "--out", out, "--no-cache", "--timings", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var rel api.Release
	if err := json.Unmarshal([]byte(stdout), &rel); err != nil {
		t.Fatalf("stdout is not release.json: %v", err)
	}
	for _, stage := range []string{"load", "plan", "read", "chart", "render", "validate", "images", "lint", "package", "check", "digest", "flux", "write", "sum", "wall"} {
		if !regexp.MustCompile(`(?m)^` + stage + ` +[0-9.]+[µnm]?s\b`).MatchString(stderr) {
			t.Errorf("no %s line on stderr:\n%s", stage, stderr)
		}
	}
	if !strings.Contains(stderr, "render ") || !strings.Contains(stderr, "      3\n") {
		t.Errorf("want the chart stages run once per chart (3):\n%s", stderr)
	}
}

func TestBuildRefusesForeignDirectory(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "precious.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "build", "-C", "testdata/base", "--out", out)
	if code != exitUser || !strings.Contains(errOut, "refusing to replace it") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "precious.txt")); string(b) != "keep" {
		t.Error("foreign file changed")
	}
}

func TestTemplate(t *testing.T) {
	out := mustRun(t, "template", "b", "-C", "testdata/base")
	for _, want := range []string{"# Source: b/templates/configmap.yaml", "name: b", `greeting: "hi"`} {
		if !strings.Contains(out, want) {
			t.Errorf("template output lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut := runCLI(t, "template", "opt", "-C", "testdata/base")
	if code != exitUser || !strings.Contains(errOut, `no enabled component "opt"`) {
		t.Errorf("disabled component: exit %d: %s", code, errOut)
	}
}

func TestGraph(t *testing.T) {
	checkGolden(t, "graph.dot", mustRun(t, "graph", "-C", "testdata/base"))
	if _, err := exec.LookPath("dot"); err != nil {
		code, _, errOut := runCLI(t, "graph", "-C", "testdata/base", "--format", "svg")
		if code == exitOK || !strings.Contains(errOut, "graphviz") {
			t.Errorf("svg without dot: exit %d: %s", code, errOut)
		}
		t.Skip("Graphviz's dot is not on PATH (.ci/run installs it)")
	}
	svg := mustRun(t, "graph", "-C", "testdata/base", "--format", "svg")
	if !strings.Contains(svg, "<svg") || !strings.Contains(svg, ">a</text>") {
		t.Errorf("not an SVG of the graph:\n%.300s", svg)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"build", "--no-such-flag"},
		{"no-such-command"},
		{"template"},
		{"template", "a", "b"},
		{"vet", "-o", "xml", "-C", "testdata/base"},
		{"graph", "--format", "png", "-C", "testdata/base"},
		{"vet", "-C", t.TempDir()},
		{"build", "-C", "../..", "--bundle", "nope"},
		{"build", "-C", "../.."},
	} {
		code, stdout, errOut := runCLI(t, args...)
		if code != exitUser || stdout != "" || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("distgen %v: exit %d, stdout %q, stderr %q", args, code, stdout, errOut)
		}
	}
}

// A fault outside the user's input (here: the output cannot be written)
// exits with 2.
func TestInternalErrorExitCode(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "build", "-C", "testdata/base", "--out", filepath.Join(file, "dist"))
	if code != exitInternal || !strings.Contains(errOut, "not a directory") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestPushAndBootstrapCommands(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", "testdata/base", "--out", out)
	layoutDir := t.TempDir()
	var res struct {
		Artifacts []struct{ Ref, Digest string }
		Bytes     int64
	}
	if err := json.Unmarshal([]byte(mustRun(t, "push", "--from", out, "--to", "oci-layout:"+layoutDir, "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Artifacts) != 4 || res.Artifacts[3].Ref != "bundles/test:1.2.3" || res.Bytes == 0 {
		t.Errorf("push result %+v", res)
	}
	manifest := mustRun(t, "bootstrap", "--from", "oci://registry.example.com/p/bundles/test:1.2.3", "--release", out)
	if !strings.Contains(manifest, "digest: "+res.Artifacts[3].Digest) || !strings.Contains(manifest, "DISTGEN_REGISTRY: registry.example.com/p") {
		t.Errorf("bootstrap:\n%s", manifest)
	}
	for _, args := range [][]string{
		{"push", "--from", out},                                              // no target
		{"push", "--from", out, "--to", "s3://bucket"},                       // unknown target
		{"push", "--from", t.TempDir(), "--to", "oci-layout:" + t.TempDir()}, // not a build
		{"push", "--from", out, "--to", "oci://registry.example.com/p", "--plain-http"},
		{"bootstrap", "--from", "oci://registry.example.com/p/bundles/other:1.2.3", "--release", out},
		{"bootstrap", "--from", "oci://registry.example.com/p/charts/x:1.0.0", "--release", out},
		{"bootstrap", "--from", "registry.example.com/p/bundles/test:1.2.3", "--release", out},
		{"bootstrap", "--from", "oci://registry.example.com/p/bundles/test:1.2.3", "--release", out, "--track", "1.x"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != exitUser {
			t.Errorf("distgen %v: exit %d: %s", args, code, errOut)
		}
	}
}

// A project without upstream charts vendors nothing and writes no lock.
func TestVendorNothing(t *testing.T) {
	root := t.TempDir()
	mustRun(t, "build", "-C", "testdata/base", "--out", filepath.Join(root, "dist"))
	if out := mustRun(t, "vendor", "-C", "testdata/base", "-o", "json"); strings.TrimSpace(out) != "null" && strings.TrimSpace(out) != "[]" {
		t.Errorf("vendor printed %q", out)
	}
	if _, err := os.Stat(filepath.Join("testdata", "base", "versions.lock.json")); err == nil {
		t.Error("vendor wrote a lock for a project without upstream charts")
	}
	if code, out, errOut := runCLI(t, "vendor", "-C", "testdata/base"); code != exitOK || out != "" || !strings.Contains(errOut, "nothing to vendor") {
		t.Errorf("vendor with nothing to do: exit %d, %q, %q", code, out, errOut)
	}
}

func TestImages(t *testing.T) {
	out := mustRun(t, "images", "-C", "../..", "--bundle", "demo")
	want := "docker.io/fluent/fluent-bit:3.2.4\nghcr.io/fluxcd/helm-controller:v1.4.3\nghcr.io/fluxcd/kustomize-controller:v1.7.2\nghcr.io/fluxcd/source-controller:v1.7.3\n" +
		"ghcr.io/siderolabs/amd-ucode:20250917\nghcr.io/siderolabs/drbd:9.2.14-v1.11.5\nghcr.io/siderolabs/imager:v1.11.5\nghcr.io/siderolabs/installer-base:v1.11.5\nghcr.io/siderolabs/intel-ucode:20250812\nghcr.io/siderolabs/zfs:2.3.3-v1.11.5\n"
	if out != want {
		t.Errorf("images:\n%s\nwant:\n%s", out, want)
	}
	var res struct {
		Components []struct {
			Name   string
			Images []string
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, "images", "-C", "../..", "--bundle", "demo", "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Components) != 1 || res.Components[0].Name != "log-shipper" {
		t.Errorf("images -o json: %+v", res)
	}
	if code, _, errOut := runCLI(t, "images", "-C", "../..", "--bundle", "demo", "--lock"); code != exitUser || !strings.Contains(errOut, "--resolve") {
		t.Errorf("images --lock without --resolve: exit %d: %s", code, errOut)
	}
}

func TestTalosProfile(t *testing.T) {
	want := "customization:\n  systemExtensions:\n    officialExtensions:\n    - siderolabs/amd-ucode\n    - siderolabs/drbd\n    - siderolabs/intel-ucode\n    - siderolabs/zfs\n"
	if out := mustRun(t, "talos-profile", "-C", "../.."); out != want {
		t.Errorf("talos-profile:\n%s\nwant:\n%s", out, want)
	}
	code, _, errOut := runCLI(t, "talos-profile", "-C", "testdata/base")
	if code != exitUser || !strings.Contains(errOut, "pins no Talos version") {
		t.Errorf("a project without Talos: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{"--format", "iso"}, {"--format", "imager", "--arch", "riscv"}, {"--registry", "mirror.local/site"}} {
		if code, _, errOut := runCLI(t, append([]string{"talos-profile", "-C", "../.."}, args...)...); code != exitUser {
			t.Errorf("talos-profile %v: exit %d: %s", args, code, errOut)
		}
	}
}

// The imager profile pulls exactly the Talos images of the inventory, so
// a mirror of the release carries everything it needs; with --registry it
// pulls each from where the mirror keeps it.
func TestTalosImagerProfile(t *testing.T) {
	inventory := map[string]bool{}
	for _, ref := range strings.Fields(mustRun(t, "images", "-C", "../..", "--bundle", "demo")) {
		if strings.HasPrefix(ref, "ghcr.io/siderolabs/") {
			inventory[ref] = true
		}
	}
	profile := func(args ...string) (refs []string) {
		var res action.TalosProfileResult
		if err := json.Unmarshal([]byte(mustRun(t, append([]string{"talos-profile", "-C", "../..", "--format", "imager", "-o", "json"}, args...)...)), &res); err != nil {
			t.Fatal(err)
		}
		p := res.Imager
		if p == nil || p.Version != "v1.11.5" || p.Output.Kind != "installer" || p.Input.Kernel.Path != "/usr/install/"+p.Arch+"/vmlinuz" {
			t.Fatalf("imager profile %+v", p)
		}
		refs = append(refs, res.ImagerImage, p.Input.BaseInstaller.ImageRef)
		for _, e := range p.Input.SystemExtensions {
			refs = append(refs, e.ImageRef)
		}
		return refs
	}
	stock := profile()
	if len(stock) != len(inventory) {
		t.Errorf("the profile pulls %v; the inventory has %v", stock, inventory)
	}
	for _, ref := range stock {
		if !inventory[ref] {
			t.Errorf("the profile pulls %s, which the inventory does not hold", ref)
		}
	}
	relocated := profile("--registry", "mirror.local:5000/site", "--arch", "arm64")
	for i, ref := range relocated {
		want, _ := mirror.RelocatedRef("mirror.local:5000/site", stock[i])
		if ref != want || !strings.HasPrefix(ref, "mirror.local:5000/site/images/ghcr.io/siderolabs/") {
			t.Errorf("relocated %s is %s, want %s", stock[i], ref, want)
		}
	}
}

func TestTenantCommands(t *testing.T) {
	if out := mustRun(t, "tenant", "vet", "-C", "../.."); !strings.Contains(out, "ok  tenant bundle customers 0.1.0: 2 tenants, 5 app instances") {
		t.Errorf("tenant vet: %q", out)
	}
	dir := filepath.Join(t.TempDir(), "customers")
	out := mustRun(t, "tenant", "build", "-C", "../..", "--bundle", "customers", "--out", dir)
	if !strings.Contains(out, "tenant  tenants/acme-dev:0.1.0") || !strings.Contains(out, "app     apps/postgres:0.1.0") {
		t.Errorf("tenant build: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenants", "acme", "kustomization.yaml")); err != nil {
		t.Error(err)
	}
	if code, _, errOut := runCLI(t, "tenant", "build", "-C", "../..", "--bundle", "nobody", "--out", dir); code != exitUser || !strings.Contains(errOut, `no tenant bundle "nobody"`) {
		t.Errorf("tenant build of a missing bundle: exit %d: %s", code, errOut)
	}
	boot := filepath.Join(t.TempDir(), "boot.yaml")
	mustRun(t, "tenant", "bootstrap", "--from", "oci://registry.example.com/p", "--release", dir, "--tenant", "acme", "--out", boot)
	if b, err := os.ReadFile(boot); err != nil || strings.Count(string(b), "namespace: flux-system\n") != 2 || !strings.Contains(string(b), "url: oci://registry.example.com/p/tenants/acme\n") || strings.Contains(string(b), "acme-dev") {
		t.Errorf("tenant bootstrap of acme (%v):\n%s", err, b)
	}
	if code, _, errOut := runCLI(t, "tenant", "bootstrap", "--from", "oci://registry.example.com/p", "--release", dir, "--tenant", "nobody"); code != exitUser || !strings.Contains(errOut, `--tenant "nobody"`) {
		t.Errorf("tenant bootstrap of a missing tenant: exit %d: %s", code, errOut)
	}
}

// Bad flags of a build are refused before anything is rendered, each named
// once however many components there are.
func TestBuildFlagsChecked(t *testing.T) {
	for _, cmd := range [][]string{
		{"build", "-C", "testdata/base", "--out", filepath.Join(t.TempDir(), "out")},
		{"template", "a", "-C", "testdata/base"},
	} {
		args := append(cmd, "--jobs", "-3", "--kube-version", "banana", "--chart-timeout", "-1s")
		if cmd[0] == "template" {
			args = append(cmd, "--kube-version", "banana", "--chart-timeout", "-1s")
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != exitUser || stdout != "" {
			t.Fatalf("%v: exit %d, stdout %q, want 1 and nothing", args, code, stdout)
		}
		wants := []string{`--kube-version "banana": not a Kubernetes version such as v1.33.0`, "--chart-timeout -1s: want a positive duration"}
		if cmd[0] == "build" {
			wants = append(wants, "--jobs -3: want 0 (one per CPU) or more")
		}
		for _, want := range wants {
			if n := strings.Count(stderr, want); n != 1 {
				t.Errorf("%v: %q appears %d times, want once:\n%s", args, want, n, stderr)
			}
		}
	}
}

// A bundle declares a namespace's Pod Security level, labels and
// annotations; the Namespace carries them beside distgen's own.
func TestDeclaredNamespaces(t *testing.T) {
	root := fixture.Copy(t, "testdata/base")
	edit(t, filepath.Join(root, "bundles/test.cue"), "", `bundles: test: namespaces: "ns-a": {
	podSecurity: "restricted"
	labels: team: "core"
	annotations: "example.com/owner": "platform"
}
`)
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", root, "--out", out)
	b, err := os.ReadFile(filepath.Join(out, "flux", "namespaces.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var ns struct {
			Metadata struct {
				Name        string            `json:"name"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &ns); err != nil {
			t.Fatal(err)
		}
		byName[ns.Metadata.Name] = map[string]any{"labels": ns.Metadata.Labels, "annotations": ns.Metadata.Annotations}
	}
	a := byName["ns-a"]
	labels, annotations := a["labels"].(map[string]string), a["annotations"].(map[string]string)
	for k, v := range map[string]string{
		"team": "core", "pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted",
		"app.kubernetes.io/managed-by": "distgen",
	} {
		if labels[k] != v {
			t.Errorf("ns-a label %s = %q, want %q (labels %v)", k, labels[k], v, labels)
		}
	}
	if annotations["example.com/owner"] != "platform" || annotations["kustomize.toolkit.fluxcd.io/prune"] != "disabled" {
		t.Errorf("ns-a annotations %v", annotations)
	}
	if l := byName["ns-b"]["labels"].(map[string]string); l["pod-security.kubernetes.io/enforce"] != "privileged" || l["team"] != "" {
		t.Errorf("ns-b labels %v, want privileged and no declared labels", l)
	}
}

// An output directory is never the project, nor the parent of another
// output: a build refuses it and changes nothing.
func TestOutputNeverHoldsOtherOutputs(t *testing.T) {
	root := fixture.Copy(t, "testdata/base")
	parent := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", root, "--out", filepath.Join(parent, "test"))
	mustRun(t, "push", "-C", root, "--from", filepath.Join(parent, "test"), "--to", "oci-layout:"+filepath.Join(parent, "layout"))
	// A release.json in the parent itself, as a build into dist/ would leave.
	writeFile(t, filepath.Join(parent, "release.json"), "{}")
	before := fixture.Read(t, parent)
	for _, tc := range []struct{ out, want string }{
		{parent, "holds another output"},
		{root, "holds the project"},
		{filepath.Dir(root), "holds the project"},
	} {
		code, _, stderr := runCLI(t, "build", "-C", root, "--out", tc.out)
		if code != exitUser || !strings.Contains(stderr, tc.want) {
			t.Errorf("build --out %s: exit %d, want 1 and %q:\n%s", tc.out, code, tc.want, stderr)
		}
	}
	if after := fixture.Read(t, parent); !reflect.DeepEqual(before, after) {
		t.Error("a refused build changed the directory")
	}
}

// A credential helper that fails while printing a token: the error says
// which helper failed, never what it printed.
func TestCredentialHelperOutputHidden(t *testing.T) {
	const secret = "ghp_TOPSECRETtoken1234"
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "docker-credential-leaky"), "#!/bin/sh\necho \"token="+secret+"\"\nexit 1\n")
	if err := os.Chmod(filepath.Join(bin, "docker-credential-leaky"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := t.TempDir()
	writeFile(t, filepath.Join(cfg, "config.json"), fmt.Sprintf(`{"credHelpers":{%q:"leaky"}}`, host))
	t.Setenv("DOCKER_CONFIG", cfg)

	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", "testdata/base", "--out", out)
	code, stdout, stderr := runCLI(t, "push", "-C", "testdata/base", "--from", out, "--to", "oci://"+host+"/x", "--plain-http")
	if code == exitOK {
		t.Fatalf("push with a failing credential helper succeeded:\n%s", stderr)
	}
	if strings.Contains(stderr+stdout, secret) {
		t.Errorf("the helper's output was printed:\n%s", stderr)
	}
	if !strings.Contains(stderr, "error getting credentials") {
		t.Errorf("the error does not say credentials failed:\n%s", stderr)
	}
}

// A reference with credentials in it is refused, and the secret is not
// echoed, by every command that takes one.
func TestCredentialsInReferenceRefused(t *testing.T) {
	const secret = "hunter2-secret"
	for _, args := range [][]string{
		{"push", "-C", "testdata/base", "--to", "oci://user:" + secret + "@127.0.0.1:5000/x", "--plain-http"},
		{"mirror", "--from", "oci://user:" + secret + "@127.0.0.1:5000/x/bundles/test:1.2.3", "--to", filepath.Join(t.TempDir(), "a.tar")},
		{"bootstrap", "--from", "oci://user:" + secret + "@registry.example.com/x/bundles/test:1.2.3"},
		{"tenant", "bootstrap", "--from", "oci://user:" + secret + "@registry.example.com/x/tenants/acme:0.1.0"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitUser || strings.Contains(stdout+stderr, secret) || !strings.Contains(stderr, "oci://***@") {
			t.Errorf("%v: exit %d, want 1 with the secret masked:\n%s%s", args[:2], code, stdout, stderr)
		}
	}
}

// A build whose components changed while their versions stayed is refused,
// naming each, and leaves the previous output; --allow-unbumped builds it.
func TestBuildRefusesUnbumpedChange(t *testing.T) {
	root := fixture.Copy(t, "testdata/base")
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", root, "--out", out)
	before := fixture.Read(t, out)
	edit(t, filepath.Join(root, "packages/system/app/values.yaml"), "greeting: hello", "greeting: changed")
	code, _, stderr := runCLI(t, "build", "-C", root, "--out", out)
	if code != exitUser {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr)
	}
	for _, want := range []string{
		`component "a": charts/a:1.0.0 changed (sha256:`, `component "c": charts/c:2.0.0 changed`,
		`bundle "test": bundles/test:1.2.3 changed`, "but its version did not: bump it, or build with --allow-unbumped",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if after := fixture.Read(t, out); !reflect.DeepEqual(before, after) {
		t.Error("a refused build changed the output")
	}
	mustRun(t, "build", "-C", root, "--out", out, "--allow-unbumped")
	// Bumped, it builds without the flag.
	edit(t, filepath.Join(root, "packages/system/app/values.yaml"), "greeting: changed", "greeting: again")
	for _, v := range [][2]string{{`a: chart: "1.0.0"`, `a: chart: "1.0.1"`}, {`b: chart: "1.1.0"`, `b: chart: "1.1.1"`}, {`c: chart: "2.0.0"`, `c: chart: "2.0.1"`}, {`distribution: "1.2.3"`, `distribution: "1.2.4"`}} {
		edit(t, filepath.Join(root, "versions.cue"), v[0], v[1])
	}
	mustRun(t, "build", "-C", root, "--out", out)
}

// keygen, push --sign and verify from the command line: a release signed
// by one key verifies with it (exit 0) and not with another (exit 1).
func TestSignCommands(t *testing.T) {
	t.Setenv("COSIGN_PASSWORD", "pw")
	keys := t.TempDir()
	for _, k := range []string{"a", "b"} {
		mustRun(t, "keygen", "--output-key-prefix", filepath.Join(keys, k))
	}
	if code, _, stderr := runCLI(t, "keygen", "--output-key-prefix", filepath.Join(keys, "a")); code != exitUser || !strings.Contains(stderr, "refusing to replace a key") {
		t.Errorf("keygen over an existing key: exit %d\n%s", code, stderr)
	}
	if info, err := os.Stat(filepath.Join(keys, "a.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("a.key: %v %v, want mode 0600", info.Mode(), err)
	}
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", "testdata/base", "--out", out)
	to := "oci-layout:" + t.TempDir()
	mustRun(t, "push", "-C", "testdata/base", "--from", out, "--to", to, "--sign", "--key", filepath.Join(keys, "a.key"))
	if got := mustRun(t, "verify", "--key", filepath.Join(keys, "a.pub"), "--from", to); strings.Count(got, "verified ") != 4 {
		t.Errorf("verify printed:\n%s", got)
	}
	if code, _, stderr := runCLI(t, "verify", "--key", filepath.Join(keys, "b.pub"), "--from", to); code != exitUser || strings.Count(stderr, "no signature by this key") != 4 {
		t.Errorf("verify with another key: exit %d\n%s", code, stderr)
	}
	t.Setenv("COSIGN_PASSWORD", "wrong")
	if code, _, stderr := runCLI(t, "sign", "--key", filepath.Join(keys, "a.key"), to+"/bundles/test:1.2.3"); code != exitUser || !strings.Contains(stderr, "does not open with this password") {
		t.Errorf("sign with the wrong password: exit %d\n%s", code, stderr)
	}
}

// What Helm accepts builds: a subchart vendored under charts/ that
// Chart.yaml does not list, and a chart without templates/. Lint's advice
// is one line per finding, however many components share the chart;
// --strict makes it an error; asIs takes a chart as it is.
func TestHelmAcceptsItSoDoesBuild(t *testing.T) {
	root := fixture.Copy(t, "testdata/base")
	writeFile(t, filepath.Join(root, "packages/system/app/charts/sub/Chart.yaml"), "apiVersion: v2\nname: sub\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(root, "packages/system/app/charts/sub/templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-sub\n")
	out := filepath.Join(t.TempDir(), "dist")
	code, _, stderr := runCLI(t, "build", "-C", root, "--out", out)
	if code != exitOK {
		t.Fatalf("build with an undeclared subchart: exit %d\n%s", code, stderr)
	}
	if want := "warning: 3 components (a, b, c): lint: Chart.yaml: chart metadata is missing these dependencies: sub\n"; strings.Count(stderr, "lint:") != 1 || !strings.Contains(stderr, want) {
		t.Errorf("stderr:\n%s\nwant the one line %q", stderr, want)
	}
	if got := mustRun(t, "template", "a", "-C", root); !strings.Contains(got, "name: a-sub") {
		t.Errorf("the undeclared subchart is not rendered:\n%s", got)
	}
	code, _, stderr = runCLI(t, "build", "-C", root, "--out", filepath.Join(t.TempDir(), "strict"), "--strict")
	if code != exitUser || strings.Count(stderr, "lint (--strict): Chart.yaml: chart metadata is missing these dependencies: sub") != 3 {
		t.Errorf("--strict: exit %d\n%s", code, stderr)
	}
	for _, c := range []string{"a", "b", "c"} {
		edit(t, filepath.Join(root, "bundles/test.cue"), "", fmt.Sprintf("bundles: test: components: %s: asIs: true\n", c))
	}
	if code, _, stderr = runCLI(t, "build", "-C", root, "--out", filepath.Join(t.TempDir(), "asis"), "--strict"); code != exitOK || strings.Contains(stderr, "lint") {
		t.Errorf("asIs with --strict: exit %d\n%s", code, stderr)
	}

	// No templates/ at all.
	bare := fixture.Copy(t, "testdata/base")
	if err := os.RemoveAll(filepath.Join(bare, "packages/system/app/templates")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "build", "-C", bare, "--out", filepath.Join(t.TempDir(), "bare"))
	if code != exitOK || strings.Count(stderr, "lint:") != 1 || !strings.Contains(stderr, "3 components (a, b, c): lint: templates/: directory does not exist") {
		t.Errorf("a chart without templates/: exit %d\n%s", code, stderr)
	}
}

// The HelmRelease settings real charts need reach the HelmRelease as
// Flux's types have them; a bad one is refused in the user's terms.
func TestHelmSettings(t *testing.T) {
	root := fixture.Copy(t, "testdata/base")
	edit(t, filepath.Join(root, "bundles/test.cue"), "", `bundles: test: components: b: helm: {
	valuesFrom: [{kind: "Secret", name: "site-values", valuesKey: "values.yaml", optional: true}]
	disableHooks: true
	maxHistory:   5
	test: {ignoreFailures: true, timeout: "2m"}
	driftDetection: mode: "warn"
	install: {crds: "Skip", retries: 1, strategy: "RetryOnFailure", replace: true}
	upgrade: {retries: -1, strategy: "RemediateOnFailure", force: true, cleanupOnFail: true}
}
`)
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", root, "--out", out)
	b, err := os.ReadFile(filepath.Join(out, "flux/components/b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hr helmv2.HelmRelease
	for _, doc := range strings.Split(string(b), "\n---\n") {
		if strings.Contains(doc, "kind: HelmRelease") {
			if err := yaml.UnmarshalStrict([]byte(doc), &hr); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := hr.Spec
	switch {
	case len(s.ValuesFrom) != 1 || s.ValuesFrom[0].Name != "site-values" || s.ValuesFrom[0].ValuesKey != "values.yaml" || !s.ValuesFrom[0].Optional:
		t.Errorf("valuesFrom %+v", s.ValuesFrom)
	case !s.Install.DisableHooks || !s.Upgrade.DisableHooks || s.MaxHistory == nil || *s.MaxHistory != 5:
		t.Errorf("hooks %v/%v, maxHistory %v", s.Install.DisableHooks, s.Upgrade.DisableHooks, s.MaxHistory)
	case s.Test == nil || !s.Test.Enable || !s.Test.IgnoreFailures || s.Test.Timeout == nil || s.Test.Timeout.Duration != 2*time.Minute:
		t.Errorf("test %+v", s.Test)
	case s.DriftDetection == nil || s.DriftDetection.Mode != helmv2.DriftDetectionWarn:
		t.Errorf("driftDetection %+v", s.DriftDetection)
	case s.Install.CRDs != helmv2.Skip || s.Install.Remediation.Retries != 1 || s.Install.Strategy == nil || s.Install.Strategy.Name != "RetryOnFailure" || !s.Install.Replace:
		t.Errorf("install %+v", s.Install)
	case s.Upgrade.CRDs != helmv2.CreateReplace || s.Upgrade.Remediation.Retries != -1 || s.Upgrade.Strategy == nil || !s.Upgrade.Force || !s.Upgrade.CleanupOnFail:
		t.Errorf("upgrade %+v", s.Upgrade)
	}
	edit(t, filepath.Join(root, "bundles/test.cue"), `strategy: "RetryOnFailure"`, `strategy: "Sometimes"`)
	code, _, stderr := runCLI(t, "vet", "-C", root)
	if code != exitUser || !strings.Contains(stderr, `invalid value "Sometimes": must be one of RemediateOnFailure, RetryOnFailure`) {
		t.Errorf("a bad strategy: exit %d\n%s", code, stderr)
	}
}

// A bundle types its site's values; every release that reads them gets
// them through valuesFrom, and bootstrap --site checks a site file and
// emits them, so one release digest serves every site.
func TestSiteValues(t *testing.T) {
	root := fixture.Copy(t, "testdata/base")
	edit(t, filepath.Join(root, "bundles/test.cue"), "", `bundles: test: #site: {
	domain:   =~"^[a-z0-9.-]+$"
	replicas: int & >=1 | *1
}
bundles: test: components: c: site: false
`)
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", root, "--out", out)
	for name, want := range map[string]bool{"a": true, "b": true, "c": false} {
		b, err := os.ReadFile(filepath.Join(out, "flux/components", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), "name: distgen-site"); got != want {
			t.Errorf("%s reads the site's values: %v, want %v", name, got, want)
		}
	}
	site := filepath.Join(t.TempDir(), "site.cue")
	writeFile(t, site, "domain: \"cloud.example.com\"\n")
	boot := mustRun(t, "bootstrap", "-C", root, "--from", "oci://registry.example.com/p/bundles/test:1.2.3", "--release", out, "--site", site)
	var secrets []string
	for _, doc := range strings.Split(boot, "\n---\n") {
		var obj struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
			Data     map[string][]byte `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind == "Secret" {
			secrets = append(secrets, obj.Metadata.Namespace+"/"+obj.Metadata.Name)
			if v := string(obj.Data["values.yaml"]); v != "domain: cloud.example.com\nreplicas: 1\n" {
				t.Errorf("%s holds %q", obj.Metadata.Namespace, v)
			}
		}
	}
	// a in ns-a, b in ns-b (c does not read them).
	if fmt.Sprint(secrets) != "[ns-a/distgen-site ns-b/distgen-site]" {
		t.Errorf("site secrets %v", secrets)
	}
	for body, wants := range map[string][]string{
		"domain: \"Not A Domain\"\nreplicas: 0\n": {"site.cue:1:9: bundles.test.#site.domain: invalid value \"Not A Domain\"", "site.cue:2:11: bundles.test.#site.replicas: invalid value 0"},
		"domain: \"a.example\"\nregion: \"eu\"\n": {"site.cue:2:1: bundles.test.#site.region: field not allowed"},
		"replicas: 2\n": {"bundles.test.#site.domain: missing"},
	} {
		writeFile(t, site, body)
		code, stdout, stderr := runCLI(t, "bootstrap", "-C", root, "--from", "oci://registry.example.com/p/bundles/test:1.2.3", "--release", out, "--site", site)
		if code != exitUser || stdout != "" {
			t.Fatalf("site file %q: exit %d\n%s", body, code, stderr)
		}
		for _, want := range wants {
			if !strings.Contains(stderr, want) {
				t.Errorf("site file %q: stderr lacks %q:\n%s", body, want, stderr)
			}
		}
	}
}

// A first-party chart types its values with a values.cue beside it; a
// wrong type or an unknown field in a bundle's values fails vet at the
// bundle's file:line:col, naming the component.
func TestTypedChartValues(t *testing.T) {
	root := fixture.Copy(t, "testdata/base")
	writeFile(t, filepath.Join(root, "packages/system/app/values.cue"), "package app\n\n#Values: close({\n\tgreeting?: string & !=\"\"\n})\n")
	mustRun(t, "vet", "-C", root)
	for values, want := range map[string]string{
		`values: {greeting: 42}`:                      `bundles/test.cue:12:22: component "b": values (typed by packages/system/app/values.cue): conflicting values 42 and string`,
		`values: {greeting: "hi", greetings: "typo"}`: `bundles/test.cue:12:28: component "b": values (typed by packages/system/app/values.cue): field not allowed`,
	} {
		bundle := filepath.Join(root, "bundles/test.cue")
		before, _ := os.ReadFile(bundle)
		edit(t, bundle, `values: greeting: "hi"`, values)
		code, _, stderr := runCLI(t, "vet", "-C", root)
		if code != exitUser || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", values, code, want, stderr)
		}
		if err := os.WriteFile(bundle, before, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// distgen ls (inspect) prints a line per artifact of a release in a
// layout, with its digest as pushed; -o json has the same; a reference
// that is neither a release nor a chart is the user's error.
func TestInspectCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", "testdata/base", "--out", out)
	layout := filepath.Join(t.TempDir(), "layout")
	mustRun(t, "push", "--from", out, "--to", "oci-layout:"+layout)
	var rel api.Release
	b, err := os.ReadFile(filepath.Join(out, "release.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rel); err != nil {
		t.Fatal(err)
	}
	text := mustRun(t, "ls", "oci-layout:"+layout)
	if want := "bundle  bundles/test:1.2.3@" + rel.Artifact.Digest; !strings.Contains(text, want) {
		t.Errorf("ls:\n%s\nwant %q", text, want)
	}
	for _, c := range rel.Components {
		if want := "chart   " + c.Chart.Repository + ":" + c.Chart.Tag + "@" + c.Chart.Digest; !strings.Contains(text, want) {
			t.Errorf("ls:\n%s\nwant %q", text, want)
		}
	}
	if n := strings.Count(text, " unsigned\n"); n != len(rel.Components)+1 {
		t.Errorf("%d unsigned artifacts listed, want %d:\n%s", n, len(rel.Components)+1, text)
	}
	var res action.Inspected
	if err := json.Unmarshal([]byte(mustRun(t, "inspect", "oci-layout:"+layout, "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if res.Bundle == nil || res.Bundle.Digest != rel.Artifact.Digest || len(res.Charts) != len(rel.Components) {
		t.Errorf("inspect -o json: %+v", res)
	}
	if code, _, stderr := runCLI(t, "inspect", "oci://127.0.0.1:1/prefix/nothing:1.0"); code != exitUser {
		t.Errorf("inspect of a reference that names no release: exit %d\n%s", code, stderr)
	}
}

// distgen diff of two builds: a component added, one whose chart was
// bumped and whose values changed, one moved to another namespace; the
// text output is golden (UPDATE_GOLDEN=1 rewrites it), -o json says the
// same, and --exit-code exits 1 on a difference and 0 on none.
func TestDiffCommand(t *testing.T) {
	old, cur := twoBuilds(t)
	checkGolden(t, "diff.golden", mustRun(t, "diff", old, cur))
	var res action.DiffResult
	if err := json.Unmarshal([]byte(mustRun(t, "diff", old, cur, "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, c := range res.Components {
		status[c.Name] = c.Status
	}
	if status["opt"] != "added" || status["b"] != "changed" || status["c"] != "changed" || status["a"] != "" || !slices.Contains(res.Namespaces.Added, "ns-c") {
		t.Errorf("diff -o json: %+v", res)
	}
	if code, _, _ := runCLI(t, "diff", old, cur, "--exit-code"); code != exitUser {
		t.Errorf("--exit-code on different builds: exit %d, want %d", code, exitUser)
	}
	if code, out, errOut := runCLI(t, "diff", old, old, "--exit-code"); code != exitOK || out != "no changes\n" {
		t.Errorf("--exit-code on the same build: exit %d, %q %s", code, out, errOut)
	}
}

// Shell completion knows the project at -C: its components for bump and
// template, its bundles for --bundle, and the values of -o and --level;
// outside a project it offers nothing rather than files.
func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-C", "testdata/base", "bump", ""}, []string{"a", "b", "c", "opt"}},
		{[]string{"-C", "testdata/base", "template", ""}, []string{"a", "b", "c", "opt"}},
		{[]string{"-C", "testdata/base", "build", "--bundle", ""}, []string{"test"}},
		{[]string{"-C", "testdata/base", "bump", "b", "--level", ""}, []string{"patch", "minor", "major"}},
		{[]string{"inspect", "x", "-o", ""}, []string{"text", "json", "yaml"}},
		{[]string{"-C", t.TempDir(), "bump", ""}, nil},
	} {
		out := mustRun(t, append([]string{"__complete"}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		got, directive := lines[:len(lines)-1], lines[len(lines)-1]
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && tc.want == nil) {
			t.Errorf("complete %v: %q, want %q", tc.args, got, tc.want)
		}
		if directive != ":4" { // no file completion
			t.Errorf("complete %v: directive %s, want :4", tc.args, directive)
		}
	}
	if out := mustRun(t, "completion", "bash"); !strings.Contains(out, "__distgen") {
		t.Error("distgen completion bash wrote no bash completion")
	}
}

// twoBuilds builds testdata/base, then a copy with a component added, one
// whose chart was bumped and whose values changed, and one moved to
// another namespace; it returns both output directories.
func twoBuilds(t *testing.T) (old, cur string) {
	t.Helper()
	old = filepath.Join(t.TempDir(), "old")
	mustRun(t, "build", "-C", "testdata/base", "--out", old)
	root := fixture.Copy(t, "testdata/base")
	mustRun(t, "bump", "b", "--chart", "1.1.1", "-C", root)
	edit(t, filepath.Join(root, "bundles/test.cue"), `values: greeting: "hi"`, `values: {greeting: "hello", extra: {replicas: 2}}`)
	edit(t, filepath.Join(root, "bundles/test.cue"), "\t\toptional:  true\n", "")
	edit(t, filepath.Join(root, "bundles/test.cue"), "\tc: {\n\t\tnamespace: \"ns-b\"", "\tc: {\n\t\tnamespace: \"ns-c\"")
	cur = filepath.Join(t.TempDir(), "new")
	mustRun(t, "build", "-C", root, "--out", cur)
	return old, cur
}

// checkGolden compares got with testdata/name (UPDATE_GOLDEN=1 rewrites it).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

// distgen report writes the release's components, digests and images in
// Markdown (golden), and with --since what changed, linking each changed
// component to its row.
func TestReportCommand(t *testing.T) {
	old, cur := twoBuilds(t)
	checkGolden(t, "report.golden.md", mustRun(t, "report", cur, "--since", old))
	md := mustRun(t, "report", old)
	if strings.Contains(md, "Changed since") || !strings.Contains(md, `<a id="component-b"></a>b | ns-b | 1.1.0 |`) {
		t.Errorf("report without --since:\n%s", md)
	}
	if code, _, _ := runCLI(t, "report", t.TempDir()); code != exitUser {
		t.Errorf("report of a directory that holds no build: exit %d, want %d", code, exitUser)
	}
}
