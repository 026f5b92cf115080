// Package mirror copies a whole release (its bundle, every chart and every
// container image it pulls) by digest between registries, OCI image layout
// directories and archives, for air-gapped sites. Charts and images go
// first, the bundle tag last; what the destination holds is skipped, so an
// interrupted mirror resumes where it stopped.
package mirror

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/distgen/distgen/generator/internal/scratch"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/sign"
)

// Location is where a release is read from: a registry under a prefix, or
// an OCI layout (a directory, or one unpacked from an archive).
type Location struct {
	// Registry is HOST/PREFIX, when the release is in a registry.
	Registry  string
	PlainHTTP bool
	// Layout is the layout directory, when the release is in one.
	Layout string
	// cleanup removes an unpacked archive.
	cleanup func()
}

// Close releases what opening the location took.
func (l *Location) Close() {
	if l.cleanup != nil {
		l.cleanup()
	}
}

// Open opens oci://HOST/PREFIX, oci-layout:DIR, or a .tar archive of a layout.
func Open(target string, plainHTTP bool) (*Location, error) {
	switch {
	case strings.HasPrefix(target, publish.SchemeRegistry):
		prefix := strings.TrimSuffix(strings.TrimPrefix(target, publish.SchemeRegistry), "/")
		host, _, _ := strings.Cut(prefix, "/")
		if plainHTTP && !publish.IsLoopback(host) {
			return nil, fmt.Errorf("plain HTTP is only for loopback registries, not %s", host)
		}
		return &Location{Registry: prefix, PlainHTTP: plainHTTP}, nil
	case strings.HasPrefix(target, publish.SchemeLayout):
		return &Location{Layout: strings.TrimPrefix(target, publish.SchemeLayout)}, nil
	case isArchive(target):
		sd, err := scratch.New("", "distgen-archive-")
		if err != nil {
			return nil, err
		}
		if err := untar(target, sd.Path); err != nil {
			sd.Remove()
			return nil, fmt.Errorf("reading archive %s: %w", target, err)
		}
		return &Location{Layout: sd.Path, cleanup: func() { sd.Remove() }}, nil
	default:
		return nil, fmt.Errorf("unknown location %q: want oci://HOST/PREFIX, oci-layout:DIR or FILE.tar", target)
	}
}

// isArchive reports whether a target names a .tar archive of a layout
// rather than a registry or a layout directory.
func isArchive(target string) bool {
	return strings.HasSuffix(target, ".tar") &&
		!strings.HasPrefix(target, publish.SchemeRegistry) && !strings.HasPrefix(target, publish.SchemeLayout)
}

// image reads repo (relative to the location) at tag or digest.
func (l *Location) image(ctx context.Context, repo, ref string) (v1.Image, error) {
	if l.Layout != "" {
		return layoutImage(l.Layout, repo, ref)
	}
	return remoteImage(ctx, l.Registry+"/"+repo, ref, l.PlainHTTP)
}

// remoteImage reads an image by absolute repository and tag or digest.
func remoteImage(ctx context.Context, repo, ref string, plainHTTP bool) (v1.Image, error) {
	var opts []name.Option
	if plainHTTP {
		opts = append(opts, name.Insecure)
	}
	sep := ":"
	if strings.HasPrefix(ref, "sha256:") {
		sep = "@"
	}
	r, err := name.ParseReference(repo+sep+ref, opts...)
	if err != nil {
		return nil, err
	}
	return remote.Image(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
}

// layoutImage finds repo:tag, or an image of repo by digest, in a layout.
func layoutImage(dir, repo, ref string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		name := d.Annotations[publish.AnnotationRefName]
		r, tag, _ := strings.Cut(name, ":")
		if r == repo && (tag == ref || d.Digest.String() == ref) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			return &checkedImage{Image: img, digest: d.Digest}, nil
		}
	}
	return nil, fmt.Errorf("%s has no %s %s: %w", dir, repo, ref, ErrNotFound)
}

// ErrNotFound is returned for an artifact a location does not hold.
var ErrNotFound = errors.New("not found")

// Signatures returns the signature image of the artifact with digest d in
// repo (its sha256-….sig tag), or nil when it has none.
func (l *Location) Signatures(ctx context.Context, repo string, d v1.Hash) (v1.Image, error) {
	img, err := l.image(ctx, repo, sign.Tag(d))
	var te *transport.Error
	if errors.Is(err, ErrNotFound) || (errors.As(err, &te) && te.StatusCode == http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A registry's image is read lazily: make sure the tag is there.
	if _, err := img.Manifest(); err != nil {
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	return img, nil
}

// untar unpacks an archive, refusing anything but plain files and
// directories inside dir.
func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n >= MaxArchiveEntries {
			return fmt.Errorf("more than %d entries", MaxArchiveEntries)
		}
		// A sparse entry declares more bytes than the archive holds: a
		// small file that unpacks to gigabytes. A layout has none.
		if h.Typeflag == tar.TypeGNUSparse || hasSparseRecords(h) {
			return fmt.Errorf("%s is a sparse entry: refused", h.Name)
		}
		if h.Size < 0 || h.Size > info.Size() {
			return fmt.Errorf("%s declares %d bytes, more than the archive holds", h.Name, h.Size)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if rel, err := filepath.Rel(dir, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%s leaves the archive", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is not a plain file", h.Name)
		}
	}
}

// MaxArchiveEntries bounds the entries of an archive read: a release of a
// thousand charts and their images has a few thousand blobs.
const MaxArchiveEntries = 100_000

// hasSparseRecords reports whether a PAX header describes a sparse file.
func hasSparseRecords(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// tarLayout writes the layout at dir as one tar file: oci-layout and
// index.json first, then the blobs, in a fixed order.
func tarLayout(dir, archive string) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	rank := func(n string) int {
		switch n {
		case "oci-layout":
			return 0
		case "index.json":
			return 1
		}
		return 2
	}
	sort.Slice(files, func(i, j int) bool {
		if rank(files[i]) != rank(files[j]) {
			return rank(files[i]) < rank(files[j])
		}
		return files[i] < files[j]
	})
	tmp, err := os.CreateTemp(filepath.Dir(archive), "."+filepath.Base(archive)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	tw := tar.NewWriter(tmp)
	for _, n := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), archive)
}

// checkedImage is an image read from a layout, which nothing vouches for:
// its manifest must hash to the digest it was found by, its config to the
// config's digest, and each layer's content to the layer's digest, or
// reading it fails naming the blob and both digests.
type checkedImage struct {
	v1.Image
	digest v1.Hash
}

func (c *checkedImage) RawManifest() ([]byte, error) {
	b, err := c.Image.RawManifest()
	if err != nil {
		return nil, err
	}
	return b, checkBytes("manifest", c.digest, b)
}

func (c *checkedImage) Manifest() (*v1.Manifest, error) {
	b, err := c.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(b))
}

func (c *checkedImage) RawConfigFile() ([]byte, error) {
	b, err := c.Image.RawConfigFile()
	if err != nil {
		return nil, err
	}
	name, err := c.Image.ConfigName()
	if err != nil {
		return nil, err
	}
	return b, checkBytes("config", name, b)
}

func (c *checkedImage) Layers() ([]v1.Layer, error) {
	layers, err := c.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(layers))
	for i, l := range layers {
		out[i] = checkedLayer{l}
	}
	return out, nil
}

func (c *checkedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := c.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return checkedLayer{l}, nil
}

func checkBytes(what string, want v1.Hash, b []byte) error {
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); want.Algorithm != "sha256" || got != want.String() {
		return fmt.Errorf("%s blob %s in the layout has digest %s: damaged", what, want, got)
	}
	return nil
}

// checkedLayer checks its content against its digest as it is read.
type checkedLayer struct{ v1.Layer }

func (l checkedLayer) Compressed() (io.ReadCloser, error) {
	d, err := l.Layer.Digest()
	if err != nil {
		return nil, err
	}
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return &checkingReader{rc: rc, h: sha256.New(), want: d}, nil
}

type checkingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want v1.Hash
}

func (r *checkingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := "sha256:" + hex.EncodeToString(r.h.Sum(nil)); got != r.want.String() {
			return n, fmt.Errorf("blob %s in the layout has digest %s: damaged", r.want, got)
		}
	}
	return n, err
}

func (r *checkingReader) Close() error { return r.rc.Close() }
