package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/tests/fixture"
)

// A release reads the same for diff wherever it is: a build directory, its
// release.json, the project itself, an OCI layout and a registry it was
// pushed to. Against each of them, the same release diffs as no change.
func TestDiffSides(t *testing.T) {
	root := copyProject(t, repoRoot)
	out, layout, host := pushedTwice(t, root)
	cache := &chart.Cache{Dir: t.TempDir()}
	sides := []string{out, filepath.Join(out, "release.json"), root, "oci-layout:" + layout, "oci://" + host + "/distgen/bundles/demo:0.1.0"}
	for _, old := range sides {
		for _, cur := range sides {
			d := &action.Diff{Old: old, New: cur, Bundle: "demo", PlainHTTP: true, Cache: cache}
			res, err := d.Run(context.Background())
			if err != nil {
				t.Fatalf("diff %s %s: %v", old, cur, err)
			}
			if res.Changed() {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Errorf("diff %s %s: %s", old, cur, b)
			}
		}
	}
}

// pushedTwice builds the demo bundle of the project at root and pushes it
// to an OCI layout and to an in-process registry: it returns the build's
// directory, the layout's and the registry's HOST:PORT.
func pushedTwice(t *testing.T, root string) (out, layout, host string) {
	t.Helper()
	out, _ = build(t, root, "demo")
	layout = t.TempDir()
	if _, err := push(t, out, "oci-layout:"+layout); err != nil {
		t.Fatal(err)
	}
	host = newRegistry(t, nil)
	if _, err := push(t, out, "oci://"+host+"/distgen"); err != nil {
		t.Fatal(err)
	}
	return out, layout, host
}

// A changed chart diffs down to the fields of the objects it renders, with
// a Secret's values masked; pushed and built sides give the same diff, and
// components whose chart and values are unchanged are not rendered.
func TestDiffObjects(t *testing.T) {
	root := copyProject(t, repoRoot)
	secret := filepath.Join(root, "packages", "system", "ingress-defaults", "templates", "secret.yaml")
	writeSecret := func(password string) {
		t.Helper()
		body := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-auth\nstringData:\n  password: " + password + "\n  user: admin\n"
		if err := os.WriteFile(secret, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeSecret("first-Pa55word")
	old, _ := build(t, root, "demo")
	layout := t.TempDir()
	if _, err := push(t, old, "oci-layout:"+layout); err != nil {
		t.Fatal(err)
	}
	writeSecret("second-Pa55word")
	tpl := filepath.Join(root, "packages", "system", "ingress-defaults", "templates", "ingressclass.yaml")
	fixture.Edit(t, tpl, "  proxy-body-size: {{ .Values.proxyBodySize | quote }}", "  proxy-body-size: {{ .Values.proxyBodySize | quote }}\n  keepalive: \"75\"")
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `"ingress-defaults": chart:      "0.1.0"`, `"ingress-defaults": chart:      "0.1.1"`)
	cur, _ := build(t, root, "demo")

	var results []string
	for _, from := range []string{old, "oci-layout:" + layout} {
		res, err := (&action.Diff{Old: from, New: cur}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "Pa55word") {
			t.Errorf("diff from %s shows a Secret's value: %s", from, b)
		}
		results = append(results, string(b))
		if len(res.Components) != 1 || res.Components[0].Name != "ingress-defaults" {
			t.Fatalf("diff from %s: components %+v", from, res.Components)
		}
		got := map[string]string{}
		for _, o := range res.Components[0].Objects {
			for _, f := range o.Fields {
				got[o.ID()+" "+f.Path] = strings.TrimPrefix(f.Describe(), f.Path+": ")
			}
		}
		for k, want := range map[string]string{
			"ConfigMap dg-ingress/ingress-defaults data.keepalive":        `+ "75"`,
			"Secret dg-ingress/ingress-defaults-auth stringData.password": `"(masked)" -> "(masked)"`,
		} {
			if got[k] != want {
				t.Errorf("diff from %s: %s: %q, want %q (all: %q)", from, k, got[k], want, got)
			}
		}
		if _, ok := got["Secret dg-ingress/ingress-defaults-auth stringData.user"]; ok {
			t.Errorf("diff from %s: an unchanged Secret key is listed", from)
		}
	}
	if results[0] != results[1] {
		t.Errorf("a build and its layout diff differently:\n%s\n%s", results[0], results[1])
	}
}
