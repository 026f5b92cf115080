package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/sign"
)

// Options configure Copy.
type Options struct {
	// Jobs bounds the artifacts copied at once; 0 means 4.
	Jobs int
	// PlainHTTP reaches loopback registries (the destination, and image
	// sources) over HTTP.
	PlainHTTP bool
	// Progress is called after each artifact; calls do not overlap.
	Progress func(publish.Result)
	// Publish are extra options for a registry destination.
	Publish []publish.Option
	// Layout are options for a layout or archive destination.
	Layout []publish.LayoutOption
	// SkipImages copies the charts and the bundle only: the site takes
	// its images from elsewhere.
	SkipImages bool
	// ImagesFrom, when set, is where images are read from instead of
	// their origin or the source (a layout, an archive or a registry
	// prefix that a mirror filled: images/<registry>/<repository>).
	ImagesFrom publish.Store
	// DryRun writes nothing: the result says what would be copied, each
	// artifact's size as the bytes it would send (Skipped when the
	// destination holds it already).
	DryRun bool
}

// Result is what a copy did, charts and images first, the bundle last.
type Result struct {
	Artifacts []publish.Result `json:"artifacts"`
	// Bytes is the number of blob bytes written to the destination.
	Bytes int64 `json:"bytes"`
	// Signatures are the signature images copied with the artifacts.
	Signatures []publish.Result `json:"signatures,omitempty"`
	// DryRun: nothing was written; Artifacts and Bytes are what would be.
	DryRun bool `json:"dryRun,omitempty"`
}

// Copy copies rel from src to the destination target (oci://HOST/PREFIX,
// oci-layout:DIR or FILE.tar): charts and images first, with bounded
// concurrency, the bundle last. What the destination already holds is
// skipped; every digest written is checked against the source's.
func Copy(ctx context.Context, src publish.Store, rel *Release, target string, o Options) (*Result, error) {
	items := append([]Artifact{}, rel.Charts...)
	if !o.SkipImages {
		items = append(items, rel.Images...)
	}
	imgs := make([]v1.Image, len(items))
	for i, a := range items {
		var err error
		if imgs[i], err = read(ctx, src, a, o); err != nil {
			return nil, err
		}
	}
	if o.DryRun {
		dst, err := publish.Peek(target, append([]publish.Option{publish.WithPlainHTTP(o.PlainHTTP)}, o.Publish...)...)
		if err != nil {
			return nil, err
		}
		return dryRun(ctx, src, dst, rel.Bundle, items, imgs, o)
	}
	dst, finish, err := destination(target, o)
	if err != nil {
		return nil, err
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	res := &Result{Artifacts: make([]publish.Result, len(items)+1)}
	var mu sync.Mutex
	report := func(r publish.Result) {
		mu.Lock()
		defer mu.Unlock()
		if o.Progress != nil {
			o.Progress(r)
		}
	}
	// Artifacts that share blobs go through one worker, one after another,
	// so a shared blob is written once and then mounted into the other
	// repositories instead of being sent again.
	groups, err := sharing(imgs)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, group := range groups {
		g.Go(func() error {
			written := map[v1.Hash]string{} // blob -> reference it was written under
			for _, i := range group {
				r, err := write(gctx, dst, items[i], mountable(imgs[i], written, o.PlainHTTP))
				if err != nil {
					return err
				}
				res.Artifacts[i] = r
				report(r)
				layers, _ := imgs[i].Layers()
				for _, l := range layers {
					if d, err := l.Digest(); err == nil {
						written[d] = r.Ref
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Signatures travel with what they sign, before the bundle is tagged,
	// so a site verifies the very signatures the origin holds.
	// Looked up (and copied) as many at once as artifacts are, results kept
	// in release order.
	signed := append(append([]Artifact{}, rel.Charts...), rel.Bundle)
	sigs := make([]*publish.Result, len(signed))
	sg, sctx := errgroup.WithContext(ctx)
	sg.SetLimit(jobs)
	for i, a := range signed {
		sg.Go(func() error {
			r, ok, err := copySignatures(sctx, src, dst, a)
			if ok {
				sigs[i] = &r
				report(r)
			}
			return err
		})
	}
	if err := sg.Wait(); err != nil {
		return nil, err
	}
	for _, r := range sigs {
		if r != nil {
			res.Signatures = append(res.Signatures, *r)
			res.Bytes += r.Bytes
		}
	}
	bundle, err := read(ctx, src, rel.Bundle, o)
	if err != nil {
		return nil, err
	}
	r, err := write(ctx, dst, rel.Bundle, bundle)
	if err != nil {
		return nil, err
	}
	res.Artifacts[len(items)] = r
	report(r)
	if err := finish(); err != nil {
		return nil, err
	}
	for _, a := range res.Artifacts {
		res.Bytes += a.Bytes
	}
	return res, nil
}

// dryRun says what Copy would write: each artifact (the bundle last), the
// bytes of its blobs, skipped when the destination holds it already.
func dryRun(ctx context.Context, src publish.Store, dst publish.Publisher, bundle Artifact, items []Artifact, imgs []v1.Image, o Options) (*Result, error) {
	b, err := read(ctx, src, bundle, o)
	if err != nil {
		return nil, err
	}
	res := &Result{DryRun: true}
	for i, a := range append(items, bundle) {
		img := b
		if i < len(items) {
			img = imgs[i]
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		r := publish.Result{Ref: dst.Ref(a.Repository, a.Tag), Digest: d.String()}
		if held, err := dst.Tagged(ctx, a.Repository, a.Tag); err != nil {
			return nil, fmt.Errorf("%s: %w", describe(a), err)
		} else if held == r.Digest {
			r.Skipped = true
		} else if r.Bytes, err = publish.Size(img); err != nil {
			return nil, err
		}
		res.Artifacts = append(res.Artifacts, r)
		res.Bytes += r.Bytes
		if o.Progress != nil {
			o.Progress(r)
		}
	}
	return res, nil
}

// copySignatures copies the signature image of a (its .sig tag), if the
// source has one.
func copySignatures(ctx context.Context, src publish.Store, dst publish.Publisher, a Artifact) (publish.Result, bool, error) {
	d, err := v1.NewHash(a.Digest)
	if err != nil {
		return publish.Result{}, false, fmt.Errorf("%s: %w", describe(a), err)
	}
	sigs, err := Signatures(ctx, src, a.Repository, d)
	if err != nil || sigs == nil {
		if err != nil {
			err = fmt.Errorf("reading the signatures of %s: %w", describe(a), err)
		}
		return publish.Result{}, false, err
	}
	r, err := dst.Write(ctx, a.Repository, sign.Tag(d), sigs)
	if err != nil {
		return r, false, fmt.Errorf("writing the signatures of %s: %w", describe(a), err)
	}
	return r, true, nil
}

// read opens an artifact at the source and checks its digest.
func read(ctx context.Context, src publish.Store, a Artifact, o Options) (v1.Image, error) {
	var img v1.Image
	var err error
	ref := a.Tag
	if a.Digest != "" {
		ref = a.Digest
	}
	switch {
	case a.Source != "" && o.ImagesFrom != nil:
		img, err = o.ImagesFrom.Image(ctx, a.Repository, ref)
	case a.Source != "" && !isLocal(src):
		// An image of a release in a registry comes from where it lives.
		var r name.Reference
		if r, err = name.ParseReference(a.Source); err == nil {
			img, err = remoteImage(ctx, r.Context().Name(), ref, o.PlainHTTP)
		}
	default:
		img, err = src.Image(ctx, a.Repository, ref)
		if a.Source != "" && errors.Is(err, publish.ErrNotFound) {
			err = fmt.Errorf("%w (the source holds no images: copy them --images-from a layout, archive or registry that holds them, or --skip-images)", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", describe(a), err)
	}
	if a.Digest != "" {
		if d, err := img.Digest(); err != nil || d.String() != a.Digest {
			return nil, fmt.Errorf("%s: source has %v, want %s", describe(a), d, a.Digest)
		}
	}
	return img, nil
}

// write stores an artifact at the destination and checks the digest that
// arrived.
func write(ctx context.Context, dst publish.Publisher, a Artifact, img v1.Image) (publish.Result, error) {
	r, err := dst.Write(ctx, a.Repository, a.Tag, img)
	if err != nil {
		return r, fmt.Errorf("writing %s: %w", describe(a), err)
	}
	if want, _ := img.Digest(); r.Digest != want.String() {
		return r, fmt.Errorf("%s arrived as %s, want %s", describe(a), r.Digest, want)
	}
	return r, nil
}

// sharing groups artifacts that share a layer (transitively); groups and
// their members keep the artifacts' order.
func sharing(imgs []v1.Image) ([][]int, error) {
	parent := make([]int, len(imgs))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[v1.Hash]int{}
	for i, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		for _, l := range m.Layers {
			if j, ok := owner[l.Digest]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[l.Digest] = i
			}
		}
	}
	index := map[int]int{}
	var groups [][]int
	for i := range imgs {
		root := find(i)
		g, ok := index[root]
		if !ok {
			g = len(groups)
			index[root] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups, nil
}

// mountable makes the layers of img that were already written elsewhere in
// the destination registry mountable from there.
func mountable(img v1.Image, written map[v1.Hash]string, plainHTTP bool) v1.Image {
	if len(written) == 0 {
		return img
	}
	return &mountImage{Image: img, written: written, plainHTTP: plainHTTP}
}

type mountImage struct {
	v1.Image
	written   map[v1.Hash]string
	plainHTTP bool
}

func (m *mountImage) Layers() ([]v1.Layer, error) {
	layers, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	var opts []name.Option
	if m.plainHTTP {
		opts = append(opts, name.Insecure)
	}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if at, ok := m.written[d]; ok {
			if ref, err := name.ParseReference(at, opts...); err == nil {
				layers[i] = &remote.MountableLayer{Layer: l, Reference: ref}
			}
		}
	}
	return layers, nil
}

func describe(a Artifact) string {
	if a.Source != "" {
		return "image " + a.Source
	}
	return a.Repository + ":" + a.Tag
}

// destination opens the target; finish completes it (packs an archive).
func destination(target string, o Options) (publish.Publisher, func() error, error) {
	if dir, ok := strings.CutPrefix(target, publish.SchemeLayout); ok {
		p, err := publish.NewLayout(dir, o.Layout...)
		return p, func() error { return nil }, err
	}
	if !publish.IsArchive(target) {
		p, err := publish.New(target, append([]publish.Option{publish.WithPlainHTTP(o.PlainHTTP)}, o.Publish...)...)
		return p, func() error { return nil }, err
	}
	// An archive is a layout staged in ARCHIVE.partial beside it and packed
	// at the end. The staging directory outlives an interrupted run, so a
	// rerun resumes from it; an existing archive is unpacked into it
	// first, so a rerun after a complete one adds only what is missing.
	dir := target + ".partial"
	if err := resumeStaging(dir); err != nil {
		return nil, nil, fmt.Errorf("resuming %s: %w", dir, err)
	}
	if _, err := os.Stat(target); err == nil {
		if err := untar(target, dir); err != nil {
			return nil, nil, fmt.Errorf("reading existing archive %s: %w", target, err)
		}
	}
	p, err := publish.NewLayout(dir, o.Layout...)
	if err != nil {
		return nil, nil, err
	}
	return p, func() error {
		if err := tarLayout(dir, target); err != nil {
			return err
		}
		return os.RemoveAll(dir)
	}, nil
}

// resumeStaging readies the staging directory of an archive. What an
// interrupted run left there is kept only where it can be trusted: every
// blob whose content does not hash to its name is removed, and so is an
// index that does not parse or that may name a removed blob. Blobs are
// content-addressed, so those left are exactly what they claim to be, and
// the rerun writes whatever the index no longer names.
func resumeStaging(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	index := filepath.Join(dir, "index.json")
	if b, err := os.ReadFile(index); err == nil && !json.Valid(b) {
		if err := os.Remove(index); err != nil {
			return err
		}
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	entries, err := os.ReadDir(blobs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	removed := false
	for _, e := range entries {
		path := filepath.Join(blobs, e.Name())
		ok, err := hashes(path, e.Name())
		if err != nil {
			return err
		}
		if !ok {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
			removed = true
		}
	}
	if removed {
		if err := os.Remove(index); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// hashes reports whether the file at path has the sha256 hex digest want.
func hashes(path, want string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}
