// Package mirror copies a whole release (its bundle, every chart and every
// container image it pulls) by digest between registries, OCI image layout
// directories and archives, for air-gapped sites. Charts and images go
// first, the bundle tag last; what the destination holds is skipped, so an
// interrupted mirror resumes where it stopped.
package mirror

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
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
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/sign"
	"github.com/distgen/distgen/generator/store"
)

// Location is where a release is read from: a registry under a prefix, an
// OCI layout directory, or an archive of one (read in place).
type Location struct {
	// Registry is HOST/PREFIX, when the release is in a registry.
	Registry  string
	PlainHTTP bool
	// Layout is the layout directory, when the release is in one.
	Layout string
	// store reads a layout or an archive, checking what it reads.
	store store.Store
}

// Close releases what opening the location took.
func (l *Location) Close() {
	if l.store != nil {
		l.store.Close()
	}
}

// Local reports whether the location is a layout or an archive.
func (l *Location) Local() bool { return l.store != nil }

// Store is the layout or archive the location reads, or nil for a registry.
func (l *Location) Store() store.Store { return l.store }

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
		dir := strings.TrimPrefix(target, publish.SchemeLayout)
		return &Location{Layout: dir, store: store.Dir(dir)}, nil
	case isArchive(target):
		a, err := store.OpenArchive(target)
		if err != nil {
			return nil, err
		}
		return &Location{store: a}, nil
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
	if l.store != nil {
		return storeImage(l.store, repo, ref)
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

// storeImage finds repo:tag, or an image of repo by digest, in a layout
// or archive.
func storeImage(s store.Store, repo, ref string) (v1.Image, error) {
	idx, err := s.Index()
	if err != nil {
		return nil, err
	}
	for _, d := range idx.Manifests {
		name := d.Annotations[publish.AnnotationRefName]
		r, tag, _ := strings.Cut(name, ":")
		if r == repo && (tag == ref || d.Digest.String() == ref) {
			return store.Image(s, d)
		}
	}
	return nil, fmt.Errorf("no %s %s: %w", repo, ref, ErrNotFound)
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
		if err := store.CheckEntry(h, n, info.Size()); err != nil {
			return err
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
