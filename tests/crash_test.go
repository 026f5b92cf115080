package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/tests/fixture"
)

var errCrash = errors.New("crash point")

// A build stopped at any of its write points (each directory, each file,
// the swap into place) leaves the output directory exactly as the previous
// build left it, never a third state; the next build converges to the new
// tree, and nothing of the stopped runs is left beside it.
func TestBuildInterruptedAtEveryWritePoint(t *testing.T) {
	ctx := context.Background()
	root := copyProject(t, repoRoot)
	cache := &chart.Cache{Dir: t.TempDir()}
	parent := t.TempDir()
	out := filepath.Join(parent, "demo")
	build := func(fault func(string) error) error {
		_, err := (&action.Build{Project: action.Project{Dir: root, Bundle: "demo"}, Out: out, Cache: cache, Fault: fault, AllowUnbumped: true}).Run(ctx)
		return err
	}
	if err := build(nil); err != nil {
		t.Fatal(err)
	}
	old := hashes(t, out)

	// The next release: a template changed, its chart bumped.
	fixture.Edit(t, filepath.Join(root, "packages", "system", "ingress-defaults", "templates", "ingressclass.yaml"),
		"  proxy-body-size: {{ .Values.proxyBodySize | quote }}", "  proxy-body-size: {{ .Values.proxyBodySize | quote }}\n  keepalive: \"75\"")
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `"ingress-defaults": chart:      "0.1.0"`, `"ingress-defaults": chart:      "0.1.1"`)

	var points []string
	record := filepath.Join(t.TempDir(), "demo")
	if _, err := (&action.Build{Project: action.Project{Dir: root, Bundle: "demo"}, Out: record, Cache: cache, AllowUnbumped: true,
		Fault: func(p string) error { points = append(points, p); return nil }}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	want := hashes(t, record)
	if len(points) < 10 || points[len(points)-1] != "swap" {
		t.Fatalf("write points %v", points)
	}
	for n := range points {
		i := 0
		err := build(func(p string) error {
			if i == n {
				return fmt.Errorf("%w %d (%s)", errCrash, n, p)
			}
			i++
			return nil
		})
		if !errors.Is(err, errCrash) {
			t.Fatalf("stopped at point %d (%s): %v", n, points[n], err)
		}
		if got := hashes(t, out); fmt.Sprint(got) != fmt.Sprint(old) {
			t.Fatalf("stopped at point %d (%s), the output is neither the old build nor the new", n, points[n])
		}
	}
	if err := build(nil); err != nil {
		t.Fatal(err)
	}
	if got := hashes(t, out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Error("the build after the stopped ones did not converge to the new tree")
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("beside the output: %v, want only demo", names)
	}
	t.Logf("build stopped at each of %d write points: the old tree each time, then the new", len(points))
}

// A push into an OCI layout stopped at any of its write points (each blob
// through a checked temporary file, each index.json replaced whole) leaves
// every tag the index names whole, and the bundle's tag at the old release
// or the new; a rerun converges to the new release.
func TestPushLayoutInterruptedAtEveryWritePoint(t *testing.T) {
	ctx := context.Background()
	root := copyProject(t, repoRoot)
	oldOut, oldRes := build(t, root, "demo")
	fixture.Edit(t, filepath.Join(root, "packages", "system", "ingress-defaults", "templates", "ingressclass.yaml"),
		"  proxy-body-size: {{ .Values.proxyBodySize | quote }}", "  proxy-body-size: {{ .Values.proxyBodySize | quote }}\n  keepalive: \"75\"")
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `"ingress-defaults": chart:      "0.1.0"`, `"ingress-defaults": chart:      "0.1.1"`)
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `distribution: "0.1.0"`, `distribution: "0.1.1"`)
	newOut, newRes := build(t, root, "demo")
	oldBundle, newBundle := "bundles/demo:0.1.0", "bundles/demo:0.1.1"

	// The points of a push over the old release (what is there is skipped).
	points := 0
	count := publish.WithFault(func(string) error { points++; return nil })
	counted := t.TempDir()
	if _, err := (&action.Push{From: oldOut, To: "oci-layout:" + counted}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := (&action.Push{From: newOut, To: "oci-layout:" + counted, Layout: []publish.LayoutOption{count}}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	for k := range points {
		dir := t.TempDir()
		if _, err := (&action.Push{From: oldOut, To: "oci-layout:" + dir}).Run(ctx); err != nil {
			t.Fatal(err)
		}
		n := 0
		fault := publish.WithFault(func(string) error {
			if n++; n > k {
				return errCrash
			}
			return nil
		})
		if _, err := (&action.Push{From: newOut, To: "oci-layout:" + dir, Jobs: 1, Layout: []publish.LayoutOption{fault}}).Run(ctx); !errors.Is(err, errCrash) {
			t.Fatalf("point %d: the push was not stopped: %v", k, err)
		}
		tags := layoutTags(t, dir) // each verified whole
		if tags[oldBundle] != oldRes.Release.Artifact.Digest || (tags[newBundle] != "" && tags[newBundle] != newRes.Release.Artifact.Digest) {
			t.Fatalf("point %d: bundle tags %q and %q", k, tags[oldBundle], tags[newBundle])
		}
		if _, err := (&action.Push{From: newOut, To: "oci-layout:" + dir}).Run(ctx); err != nil {
			t.Fatalf("point %d: rerun: %v", k, err)
		}
		if tags := layoutTags(t, dir); tags[newBundle] != newRes.Release.Artifact.Digest {
			t.Fatalf("point %d: after the rerun the bundle is %q", k, tags[newBundle])
		}
	}
	t.Logf("a layout push stopped at each of %d write points: every tag whole, then the new release", points)
}

// layoutTags returns every tag the layout at dir names and its digest,
// each image read whole and checked against its digests.
func layoutTags(t *testing.T, dir string) map[string]string {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range m.Manifests {
		img, err := p.Image(d.Digest)
		if err == nil {
			err = validate.Image(img)
		}
		if err != nil {
			t.Fatalf("%s is named but not whole: %v", d.Annotations[publish.AnnotationRefName], err)
		}
		out[d.Annotations[publish.AnnotationRefName]] = d.Digest.String()
	}
	return out
}
