package tests

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distgen/distgen/generator/action"
)

// distgen inspect lists what a pushed release holds, from a registry, a
// mirror archive, and for one chart artifact: every artifact's digest as
// the build computed it, the HelmRelease of each chart, its metadata, the
// images, and which artifacts are signed.
func TestInspectRelease(t *testing.T) {
	ctx := context.Background()
	origin, images, digests, _ := mirrorFixture(t)
	from := "oci://" + hostOf(origin) + "/distgen/bundles/demo:0.1.0"
	inspect := func(from string) *action.Inspected {
		t.Helper()
		res, err := (&action.Inspect{From: from, PlainHTTP: true}).Run(ctx)
		if err != nil {
			t.Fatalf("inspect %s: %v", from, err)
		}
		return res
	}
	check := func(where string, res *action.Inspected, signed bool) {
		t.Helper()
		if res.Bundle == nil || res.Bundle.Digest != digests["bundles/demo:0.1.0"] || res.Bundle.Signed != signed {
			t.Fatalf("%s: bundle %+v, want %s signed=%v", where, res.Bundle, digests["bundles/demo:0.1.0"], signed)
		}
		charts := 0
		for ref := range digests {
			if strings.HasPrefix(ref, "charts/") {
				charts++
			}
		}
		if len(res.Charts) != charts {
			t.Errorf("%s: %d charts, want %d", where, len(res.Charts), charts)
		}
		for _, c := range res.Charts {
			ref := c.Repository + ":" + c.Tag
			if c.Digest != digests[ref] || c.Signed != signed || c.Size <= 0 {
				t.Errorf("%s: %s@%s (%d bytes, signed=%v), want %s signed=%v", where, ref, c.Digest, c.Size, c.Signed, digests[ref], signed)
			}
			if c.Chart == nil || "charts/"+c.Chart.Name != c.Repository || c.Chart.Version != c.Tag || !strings.Contains(c.Release, "/") {
				t.Errorf("%s: %s: chart %+v, release %q", where, ref, c.Chart, c.Release)
			}
		}
		if shipper := hostOf(images) + "/library/fluent-bit:3.2.4"; !slices.ContainsFunc(res.Images, func(i string) bool { return strings.HasPrefix(i, shipper) }) {
			t.Errorf("%s: images %v, want %s", where, res.Images, shipper)
		}
	}
	check("registry", inspect(from), false)

	key, _ := testKey(t)
	if _, err := (&action.Sign{Release: from, Key: key, PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	check("registry, signed", inspect(from), true)

	archive := filepath.Join(t.TempDir(), "demo.tar")
	if _, err := (&action.Mirror{From: from, To: archive, PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	origin.Close()
	check("archive, origin stopped", inspect(archive), true)

	// One chart artifact.
	var one string
	for ref := range digests {
		if strings.HasPrefix(ref, "charts/") {
			one = ref
			break
		}
	}
	site := newRegistry(t, nil)
	if _, err := (&action.Mirror{From: archive, To: "oci://" + site + "/site", PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	res := inspect("oci://" + site + "/site/" + one)
	if res.Bundle != nil || len(res.Charts) != 1 || res.Charts[0].Digest != digests[one] || !res.Charts[0].Signed || res.Charts[0].Chart == nil {
		t.Errorf("one chart %s: %+v", one, res)
	}
	if _, err := (&action.Inspect{From: "oci://" + site + "/site/charts/absent:1.0.0", PlainHTTP: true}).Run(ctx); err == nil {
		t.Error("inspecting a chart the registry lacks did not fail")
	}
}
