package publish

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
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distgen/distgen/generator/internal/atomicfile"
)

// AnnotationRefName names an image in an OCI layout's index.
const AnnotationRefName = "org.opencontainers.image.ref.name"

// Layout publishes into an OCI image layout directory. Each image is named
// in the index by "repo:tag" (AnnotationRefName), as skopeo and crane
// address images in a layout.
//
// Writes survive the process being killed at any point: every blob is
// written to a temporary file, checked against its digest and renamed into
// place; index.json is replaced whole, after everything it will name is in
// place. So every tag the index names has its whole closure, and a rerun
// converges.
type Layout struct {
	dir string
	// mu serialises index.json updates.
	mu sync.Mutex
	// readMu guards refs, the index by reference as read from the
	// index.json whose file info is refsOf.
	readMu sync.Mutex
	refs   refIndex
	refsOf os.FileInfo
	// fault, when set, is called before each write point; an error stops
	// the write there, as a kill would (see WithFault).
	fault func(point string) error
}

// LayoutOption configures a Layout.
type LayoutOption func(*Layout)

// WithFault calls fault before each write point of a layout ("blob
// sha256:… write", "blob sha256:… rename", "index write", "index rename");
// an error it returns stops the write there and leaves on disk what a kill
// at that point would. For tests that interrupt writes deterministically.
func WithFault(fault func(point string) error) LayoutOption {
	return func(l *Layout) { l.fault = fault }
}

// errFault wraps what a fault hook returned.
type errFault struct{ error }

func (e errFault) Unwrap() error { return e.error }

const (
	layoutFile   = "oci-layout"
	indexFile    = "index.json"
	tmpPrefix    = ".tmp-"
	staleTmpFile = time.Minute
)

// NewLayout opens the layout at dir, creating an empty one if needed.
// Temporary files that killed writers left are removed.
func NewLayout(dir string, opts ...LayoutOption) (*Layout, error) {
	if dir == "" {
		return nil, errors.New("empty layout directory")
	}
	l := &Layout{dir: dir}
	for _, o := range opts {
		o(l)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	// For others to read (a site serves it), whatever the umask.
	for _, d := range []string{dir, filepath.Join(dir, "blobs"), filepath.Join(dir, "blobs", "sha256")} {
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, layoutFile)); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.Write(filepath.Join(dir, layoutFile), []byte("{\n    \"imageLayoutVersion\": \"1.0.0\"\n}")); err != nil {
			return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, indexFile)); errors.Is(err, fs.ErrNotExist) {
		if err := l.writeIndex(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}); err != nil {
			return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
		}
	} else if _, err := l.index(); err != nil {
		return nil, fmt.Errorf("opening OCI layout %s: %w", dir, err)
	}
	removeStaleTemps(filepath.Join(dir, "blobs", "sha256"))
	removeStaleTemps(dir)
	return l, nil
}

// removeStaleTemps removes temporary files older than a minute in dir: a
// live writer renames its own within moments.
func removeStaleTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.Contains(e.Name(), tmpPrefix) { // ours, and atomicfile's
			continue
		}
		if info, err := e.Info(); err == nil && !info.IsDir() && time.Since(info.ModTime()) > staleTmpFile {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Ref implements Publisher.
func (l *Layout) Ref(repo, tag string) string { return repo + ":" + tag }

// Write implements Publisher. A blob already in the layout is kept when its
// size is right; manifests and configs are checked against their digest.
func (l *Layout) Write(ctx context.Context, repo, tag string, img v1.Image) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		return Result{}, err
	}
	ref := l.Ref(repo, tag)
	res := Result{Ref: ref, Digest: desc.Digest.String()}
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.index()
	if err != nil {
		return res, err
	}
	if l.named(idx, ref, desc.Digest) && l.intact(img) {
		res.Skipped = true
		return res, nil
	}
	layers, err := img.Layers()
	if err != nil {
		return res, err
	}
	for _, layer := range layers {
		d, err := layer.Digest()
		if err != nil {
			return res, err
		}
		size, err := layer.Size()
		if err != nil {
			return res, err
		}
		if l.hasBlob(d, size, false) {
			continue
		}
		rc, err := layer.Compressed()
		if err != nil {
			return res, err
		}
		err = l.writeBlob(d, size, rc)
		rc.Close()
		if err != nil {
			return res, fmt.Errorf("writing %s to the layout: %w", ref, err)
		}
		res.Bytes += size
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return res, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return res, err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return res, err
	}
	for _, b := range []struct {
		d    v1.Hash
		data []byte
	}{{cfgName, cfg}, {desc.Digest, manifest}} {
		if l.hasBlob(b.d, int64(len(b.data)), true) {
			continue
		}
		if err := l.writeBlob(b.d, int64(len(b.data)), io.NopCloser(strings.NewReader(string(b.data)))); err != nil {
			return res, fmt.Errorf("writing %s to the layout: %w", ref, err)
		}
	}
	// Everything the tag names is in place: now the index may name it.
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		if m.Annotations[AnnotationRefName] != ref {
			kept = append(kept, m)
		}
	}
	entry := v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest, ArtifactType: desc.ArtifactType,
		Annotations: map[string]string{AnnotationRefName: ref}}
	idx.Manifests = append(kept, entry)
	if err := l.writeIndex(idx); err != nil {
		return res, fmt.Errorf("writing %s to the layout: %w", ref, err)
	}
	return res, nil
}

// Tagged implements Publisher.
func (l *Layout) Tagged(ctx context.Context, repo, tag string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.index()
	if err != nil {
		return "", err
	}
	ref := l.Ref(repo, tag)
	for _, desc := range idx.Manifests {
		if desc.Annotations[AnnotationRefName] == ref {
			return desc.Digest.String(), nil
		}
	}
	return "", nil
}

// index reads index.json.
func (l *Layout) index() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, indexFile))
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", filepath.Join(l.dir, indexFile), err)
	}
	return &idx, nil
}

// writeIndex replaces index.json whole, its entries ordered by reference
// name, so the same artifacts give the same bytes whatever order they
// were written in.
func (l *Layout) writeIndex(idx *v1.IndexManifest) error {
	sort.SliceStable(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Annotations[AnnotationRefName] < idx.Manifests[j].Annotations[AnnotationRefName]
	})
	b, err := json.MarshalIndent(idx, "", "   ")
	if err != nil {
		return err
	}
	if err := l.point("index write"); err != nil {
		return err
	}
	path := filepath.Join(l.dir, indexFile)
	tmp, err := writeTemp(l.dir, strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	if err := l.point("index rename"); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// named reports whether the index names ref with digest d.
func (l *Layout) named(idx *v1.IndexManifest, ref string, d v1.Hash) bool {
	for _, desc := range idx.Manifests {
		if desc.Annotations[AnnotationRefName] == ref && desc.Digest == d {
			return true
		}
	}
	return false
}

// intact reports whether the layout holds every blob of img: layers of the
// right size, the config and manifest with the right digest.
func (l *Layout) intact(img v1.Image) bool {
	layers, err := img.Layers()
	if err != nil {
		return false
	}
	for _, layer := range layers {
		d, err1 := layer.Digest()
		size, err2 := layer.Size()
		if err1 != nil || err2 != nil || !l.hasBlob(d, size, false) {
			return false
		}
	}
	cfg, err1 := img.ConfigName()
	m, err2 := img.Manifest()
	d, err3 := img.Digest()
	raw, err4 := img.RawManifest()
	return err1 == nil && err2 == nil && err3 == nil && err4 == nil &&
		l.hasBlob(cfg, m.Config.Size, true) && l.hasBlob(d, int64(len(raw)), true)
}

func (l *Layout) blobPath(d v1.Hash) string {
	return filepath.Join(l.dir, "blobs", d.Algorithm, d.Hex)
}

// hasBlob reports whether the blob d is in the layout with the given size,
// and, when check is set, hashes to d.
func (l *Layout) hasBlob(d v1.Hash, size int64, check bool) bool {
	path := l.blobPath(d)
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() || info.Size() != size {
		return false
	}
	if !check {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return d.Algorithm == "sha256" && hex.EncodeToString(h.Sum(nil)) == d.Hex
}

// writeBlob writes the blob d of size bytes from r: to a temporary file,
// checked against d, then renamed into place.
func (l *Layout) writeBlob(d v1.Hash, size int64, r io.Reader) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: only sha256 digests are written", d)
	}
	if err := l.point("blob " + d.String() + " write"); err != nil {
		return err
	}
	dir := filepath.Dir(l.blobPath(d))
	h := sha256.New()
	tmp, err := writeTemp(dir, io.TeeReader(r, h))
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	info, err := os.Stat(tmp)
	if err == nil && (info.Size() != size || hex.EncodeToString(h.Sum(nil)) != d.Hex) {
		err = fmt.Errorf("blob %s: the content read has digest sha256:%s and %d bytes, want %d", d, hex.EncodeToString(h.Sum(nil)), info.Size(), size)
	}
	if err == nil {
		if err = l.point("blob " + d.String() + " rename"); err != nil {
			return err // left behind, as a kill would leave it
		}
		err = os.Rename(tmp, l.blobPath(d))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// writeTemp copies r into a new temporary file in dir and returns its path.
func writeTemp(dir string, r io.Reader) (string, error) {
	f, err := os.CreateTemp(dir, tmpPrefix)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// point is a write point: the fault hook, when set, may stop the write.
func (l *Layout) point(name string) error {
	if l.fault == nil {
		return nil
	}
	if err := l.fault(name); err != nil {
		return errFault{err}
	}
	return nil
}
