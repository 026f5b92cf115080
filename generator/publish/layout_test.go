package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

type tagged struct {
	repo, tag string
	img       v1.Image
}

// release is three images, two sharing a layer, written in this order.
func release(t *testing.T) []tagged {
	t.Helper()
	shared, err := random.Layer(2048, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	var out []tagged
	for i, name := range []string{"charts/a", "charts/b", "bundles/x"} {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if img, err = mutate.AppendLayers(img, shared); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, tagged{name, "1.0.0", img})
	}
	return out
}

// writeAll writes the release in order and stops at the first error, as a
// killed push stops.
func writeAll(ctx context.Context, l *Layout, rel []tagged) error {
	for _, r := range rel {
		if _, err := l.Write(ctx, r.repo, r.tag, r.img); err != nil {
			return err
		}
	}
	return nil
}

// checkClosures checks that every tag index.json names has its whole
// closure in the layout, each blob hashing to its digest, and returns the
// tags.
func checkClosures(t *testing.T, dir string) map[string]string {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("the layout does not open: %v", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("index.json: %v", err)
	}
	tags := map[string]string{}
	for _, d := range m.Manifests {
		ref := d.Annotations[AnnotationRefName]
		img, err := p.Image(d.Digest)
		if err == nil {
			err = validate.Image(img)
		}
		if err != nil {
			t.Errorf("%s: the index names it, but its closure is not whole: %v", ref, err)
		}
		tags[ref] = d.Digest.String()
	}
	return tags
}

// A write into a layout interrupted at any of its write points (a fault
// hook, not timing) leaves a layout whose every tag has its whole closure;
// a rerun completes it, and a third run writes nothing.
func TestLayoutInterruptedAtEveryWritePoint(t *testing.T) {
	ctx := context.Background()
	rel := release(t)
	var points []string
	l, err := NewLayout(t.TempDir(), WithFault(func(p string) error { points = append(points, p); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(ctx, l, rel); err != nil {
		t.Fatal(err)
	}
	if len(points) < 20 {
		t.Fatalf("%d write points, want every blob's write and rename and each index update", len(points))
	}
	killed := errors.New("killed")
	for k := range points {
		t.Run(fmt.Sprintf("%02d %s", k, points[k]), func(t *testing.T) {
			dir := t.TempDir()
			n := 0
			l, err := NewLayout(dir, WithFault(func(string) error {
				if n++; n > k {
					return killed
				}
				return nil
			}))
			if err == nil { // killed while the layout was being created
				err = writeAll(ctx, l, rel)
			}
			if !errors.Is(err, killed) {
				t.Fatalf("the write was not interrupted: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
				checkClosures(t, dir)
			}

			again, err := NewLayout(dir)
			if err != nil {
				t.Fatalf("reopening after the interruption: %v", err)
			}
			if err := writeAll(ctx, again, rel); err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if tags := checkClosures(t, dir); len(tags) != len(rel) {
				t.Errorf("after the rerun the index names %v, want all %d tags", tags, len(rel))
			}
			for _, r := range rel {
				res, err := again.Write(ctx, r.repo, r.tag, r.img)
				if err != nil || !res.Skipped || res.Bytes != 0 {
					t.Errorf("third run of %s: %+v, %v; want skipped", r.repo, res, err)
				}
			}
		})
	}
	t.Logf("%d write points interrupted", len(points))
}

// A damaged blob that a tag names (a manifest cut to nothing, a layer
// truncated) is found and written again by the next push; an index.json
// that does not parse is an error naming it, not an empty layout.
func TestLayoutRepairsDamagedBlobs(t *testing.T) {
	ctx := context.Background()
	rel := release(t)
	dir := t.TempDir()
	l, err := NewLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(ctx, l, rel); err != nil {
		t.Fatal(err)
	}
	d, _ := rel[2].img.Digest()
	layers, _ := rel[0].img.Layers()
	ld, _ := layers[0].Digest()
	for _, h := range []v1.Hash{d, ld} {
		if err := os.WriteFile(filepath.Join(dir, "blobs", h.Algorithm, h.Hex), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wrote := 0
	for _, r := range rel {
		res, err := l.Write(ctx, r.repo, r.tag, r.img)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Skipped {
			wrote++
		}
	}
	if wrote != 2 {
		t.Errorf("%d images written again, want the 2 with a damaged blob", wrote)
	}
	checkClosures(t, dir)

	if err := os.WriteFile(filepath.Join(dir, "index.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLayout(dir); err == nil || !strings.Contains(err.Error(), "index.json is damaged") {
		t.Errorf("opening a layout with an empty index.json: %v", err)
	}
}

// A layout keeps its index parsed between reads, and sees what another
// writer (here another Layout on the same directory) adds or moves.
func TestLayoutReadsSeeOtherWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rel := release(t)
	reader, err := NewLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	writer, err := NewLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(ctx, writer, rel[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Image(ctx, "charts/a", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Image(ctx, "charts/b", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("charts/b before it is written: %v", err)
	}
	if err := writeAll(ctx, writer, rel[1:]); err != nil {
		t.Fatal(err)
	}
	for _, r := range rel {
		img, err := reader.Image(ctx, r.repo, r.tag)
		if err != nil {
			t.Fatalf("%s:%s after another writer wrote it: %v", r.repo, r.tag, err)
		}
		want, _ := r.img.Digest()
		if got, _ := img.Digest(); got != want {
			t.Errorf("%s:%s is %s, want %s", r.repo, r.tag, got, want)
		}
		if _, err := reader.Image(ctx, r.repo, want.String()); err != nil {
			t.Errorf("%s@%s: %v", r.repo, want, err)
		}
	}
	// The tag moves: the reader follows.
	if _, err := writer.Write(ctx, "charts/a", "1.0.0", rel[1].img); err != nil {
		t.Fatal(err)
	}
	img, err := reader.Image(ctx, "charts/a", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := img.Digest(); got != mustDigest(t, rel[1].img) {
		t.Errorf("charts/a:1.0.0 after the tag moved: %s", got)
	}
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
