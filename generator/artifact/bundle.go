package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distgen/distgen/generator/api"
)

// File is a file of a Flux artifact, its path relative to the artifact root.
type File struct {
	Path string
	Data []byte
}

// BundleMeta describes a bundle artifact.
type BundleMeta struct {
	// Source is the bundle's origin (org.opencontainers.image.source).
	Source  string
	Version string
	Created time.Time
	// Images the platform pulls that no chart renders (Flux's controllers,
	// node images), so a mirror of the bundle copies them too.
	Images []string
}

// Bundle is the Flux OCI artifact of a bundle's manifests: an empty config
// of Flux's config media type and one tar+gzip layer of the files.
func Bundle(files []File, meta BundleMeta) (v1.Image, error) {
	layer, err := Tarball(files, meta.Created)
	if err != nil {
		return nil, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(layer))
	if err != nil {
		return nil, err
	}
	ann := map[string]string{
		api.AnnotationCreated:  meta.Created.UTC().Format(time.RFC3339),
		api.AnnotationSource:   meta.Source,
		api.AnnotationRevision: meta.Version + "@" + h.String(),
	}
	if len(meta.Images) > 0 {
		ann[api.AnnotationImages] = strings.Join(meta.Images, ",")
	}
	return newImage([]byte("{}"), api.MediaTypeFluxConfig, layer, types.MediaType(api.MediaTypeFluxContent), ann)
}

// Tarball is a gzipped tar of files, the same bytes for the same files: paths
// sorted, every mtime the given time, no owners, no gzip name or time.
func Tarball(files []File, mtime time.Time) ([]byte, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for i, f := range sorted {
		if i > 0 && sorted[i-1].Path == f.Path {
			return nil, fmt.Errorf("duplicate file %s", f.Path)
		}
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.Path,
			Mode:     0o644,
			Size:     int64(len(f.Data)),
			ModTime:  mtime.UTC().Truncate(time.Second),
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
