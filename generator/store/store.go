// Package store reads OCI content that nothing vouches for: an OCI image
// layout directory, or a tar archive of one read in place (an index of its
// entries, blobs read by offset, never unpacked). Every manifest, config
// and layer read through it is checked against its digest; a mismatch is an
// error naming the blob and both digests. mirror, serve, verify and sign
// read layouts and archives through it.
package store

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distgen/distgen/generator/internal/regular"
)

// ErrNotFound is returned for a blob or name the store does not hold.
var ErrNotFound = errors.New("not found")

// MaxEntries bounds the entries of an archive: a release of a thousand
// charts and their images has a few thousand blobs.
const MaxEntries = 100_000

// maxSmall bounds what is read whole: index.json, manifests, configs.
const maxSmall = 16 << 20

// Store is a read-only OCI layout.
type Store interface {
	// Index is the layout's index.json.
	Index() (*v1.IndexManifest, error)
	// Blob opens the blob h. The reader fails at its end if the content
	// does not hash to h.
	Blob(h v1.Hash) (io.ReadCloser, int64, error)
	// Close releases the store.
	Close() error
}

// Dir reads the layout directory dir.
type Dir string

// Index implements Store.
func (d Dir) Index() (*v1.IndexManifest, error) {
	b, err := regular.Read(filepath.Join(string(d), "index.json"), maxSmall)
	if err != nil {
		return nil, err
	}
	return parseIndex(b, filepath.Join(string(d), "index.json"))
}

// Blob implements Store: a regular file in the layout (a link is not
// followed), checked as it is read.
func (d Dir) Blob(h v1.Hash) (io.ReadCloser, int64, error) {
	if err := checkHash(h); err != nil {
		return nil, 0, err
	}
	f, info, err := regular.Open(filepath.Join(string(d), "blobs", h.Algorithm, h.Hex))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) || errors.Is(err, regular.ErrNotRegular) {
		return nil, 0, fmt.Errorf("blob %s is not a regular file in the layout: %w", h, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	return Checked(f, h), info.Size(), nil
}

// Close implements Store.
func (Dir) Close() error { return nil }

// Archive reads a tar archive of a layout in place.
type Archive struct {
	f       readerAtCloser
	entries map[string]entry
}

// readerAtCloser is what an archive is read from: a file, or (in tests)
// bytes.
type readerAtCloser interface {
	io.ReaderAt
	io.Closer
}

type entry struct{ off, size int64 }

// OpenArchive indexes the archive at path. Only directories and regular
// files are accepted; a sparse entry, a link, a device, a path out of the
// archive, an entry larger than the archive or more than MaxEntries
// entries make it refused.
func OpenArchive(p string) (*Archive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	a, err := readArchive(f, info.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading archive %s: %w", p, err)
	}
	return a, nil
}

// readArchive lists the entries of the archive of size bytes that f holds,
// refusing what CheckEntry refuses.
func readArchive(f readerAtCloser, size int64) (*Archive, error) {
	a := &Archive{f: f, entries: map[string]entry{}}
	cr := &countingReader{r: io.NewSectionReader(f, 0, size)}
	tr := tar.NewReader(cr)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := CheckEntry(h, n, size); err != nil {
			return nil, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag == tar.TypeReg {
			// tar.Reader has read exactly the header blocks: the entry's
			// data starts here.
			a.entries[name] = entry{off: cr.n, size: h.Size}
		}
	}
	return a, nil
}

// checkEntry refuses what a layout archive must not hold.
func CheckEntry(h *tar.Header, n int, archiveSize int64) error {
	if n >= MaxEntries {
		return fmt.Errorf("more than %d entries", MaxEntries)
	}
	if h.Typeflag == tar.TypeGNUSparse || hasSparse(h) {
		return fmt.Errorf("%s is a sparse entry: refused", h.Name)
	}
	if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
		return fmt.Errorf("%s is not a plain file", h.Name)
	}
	if name := path.Clean(h.Name); path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("%s leaves the archive", h.Name)
	}
	if h.Size < 0 || h.Size > archiveSize {
		return fmt.Errorf("%s declares %d bytes, more than the archive holds", h.Name, h.Size)
	}
	return nil
}

func hasSparse(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// CheckArchive checks that every entry of the archive at p is one a layout
// archive may hold, without keeping anything.
func CheckArchive(p string) error {
	a, err := OpenArchive(p)
	if err != nil {
		return err
	}
	return a.Close()
}

// Index implements Store.
func (a *Archive) Index() (*v1.IndexManifest, error) {
	e, ok := a.entries["index.json"]
	if !ok {
		return nil, fmt.Errorf("the archive holds no index.json: %w", ErrNotFound)
	}
	if e.size > maxSmall {
		return nil, fmt.Errorf("index.json of %d bytes", e.size)
	}
	b, err := io.ReadAll(io.NewSectionReader(a.f, e.off, e.size))
	if err != nil {
		return nil, err
	}
	return parseIndex(b, "index.json")
}

// Blob implements Store.
func (a *Archive) Blob(h v1.Hash) (io.ReadCloser, int64, error) {
	if err := checkHash(h); err != nil {
		return nil, 0, err
	}
	e, ok := a.entries["blobs/"+h.Algorithm+"/"+h.Hex]
	if !ok {
		return nil, 0, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	return Checked(io.NopCloser(io.NewSectionReader(a.f, e.off, e.size)), h), e.size, nil
}

// Close implements Store.
func (a *Archive) Close() error { return a.f.Close() }

// Open opens a layout directory, or an archive when p ends in .tar.
func Open(p string) (Store, error) {
	if strings.HasSuffix(p, ".tar") {
		return OpenArchive(p)
	}
	if _, err := os.Stat(filepath.Join(p, "index.json")); err != nil {
		return nil, fmt.Errorf("%s is not an OCI layout: %w", p, err)
	}
	return Dir(p), nil
}

func parseIndex(b []byte, name string) (*v1.IndexManifest, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", name, err)
	}
	// Every manifest it names has a digest distgen can read (a manifest
	// without one parses as a zero digest, which nothing can fetch).
	for i, d := range idx.Manifests {
		if checkHash(d.Digest) != nil {
			return nil, fmt.Errorf("%s is damaged: manifest %d has digest %q, want sha256:<64 hex digits>", name, i, d.Digest)
		}
	}
	return &idx, nil
}

func checkHash(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.Trim(h.Hex, "0123456789abcdef") != "" {
		return fmt.Errorf("digest %s: only sha256 digests are read: %w", h, ErrNotFound)
	}
	return nil
}

// countingReader counts what was read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Checked returns rc, failing at its end when what was read does not hash
// to want.
func Checked(rc io.ReadCloser, want v1.Hash) io.ReadCloser {
	return &checking{rc: rc, h: sha256.New(), want: want}
}

type checking struct {
	rc   io.ReadCloser
	h    hash.Hash
	want v1.Hash
}

func (c *checking) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := "sha256:" + hex.EncodeToString(c.h.Sum(nil)); got != c.want.String() {
			return n, fmt.Errorf("blob %s has digest %s: damaged", c.want, got)
		}
	}
	return n, err
}

func (c *checking) Close() error { return c.rc.Close() }

// ReadBlob reads a small blob (a manifest, a config) whole, checked.
func ReadBlob(s Store, h v1.Hash) ([]byte, error) {
	rc, size, err := s.Blob(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxSmall {
		return nil, fmt.Errorf("blob %s of %d bytes: too large for a manifest or config", h, size)
	}
	return io.ReadAll(rc)
}

// Image is the image desc names in s, read lazily and checked.
func Image(s Store, desc v1.Descriptor) (v1.Image, error) {
	raw, err := ReadBlob(s, desc.Digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	mt := desc.MediaType
	if m.MediaType != "" {
		mt = m.MediaType
	}
	return partial.CompressedToImage(&image{s: s, raw: raw, manifest: m, mediaType: mt})
}

type image struct {
	s         Store
	raw       []byte
	manifest  *v1.Manifest
	mediaType types.MediaType
}

func (i *image) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *image) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *image) RawConfigFile() ([]byte, error)      { return ReadBlob(i.s, i.manifest.Config.Digest) }
func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range append([]v1.Descriptor{i.manifest.Config}, i.manifest.Layers...) {
		if l.Digest == h {
			return &layer{s: i.s, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in the manifest: %w", h, ErrNotFound)
}

type layer struct {
	s    Store
	desc v1.Descriptor
}

func (l *layer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *layer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *layer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *layer) Compressed() (io.ReadCloser, error) {
	rc, _, err := l.s.Blob(l.desc.Digest)
	return rc, err
}
