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
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/sign"
	"github.com/distgen/distgen/generator/store"
)

// Open opens where a release is read from: oci://HOST/PREFIX,
// oci-layout:DIR, or a .tar archive of a layout (read in place).
func Open(target string, plainHTTP bool) (publish.Store, error) {
	return publish.Open(target, publish.WithPlainHTTP(plainHTTP))
}

// isLocal reports whether a store is a layout or an archive.
func isLocal(s publish.Store) bool {
	_, ok := s.(publish.Local)
	return ok
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
	return remote.Image(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(publish.Transport(plainHTTP)))
}

// Signatures returns the signature image of the artifact with digest d in
// repo (its sha256-….sig tag), or nil when it has none.
func Signatures(ctx context.Context, src publish.Store, repo string, d v1.Hash) (v1.Image, error) {
	img, err := src.Image(ctx, repo, sign.Tag(d))
	if errors.Is(err, publish.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
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
	// For the site to read, whatever the umask (CreateTemp makes 0600).
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), archive)
}
