package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
)

// Chart is the Helm OCI artifact of a packaged chart: config = the chart's
// metadata as JSON, one layer = the archive, the annotations helm push sets
// with created = the release date, and the images the release pulls.
// The metadata is read from the archive itself, so the artifact follows
// from the bytes alone.
func Chart(archive []byte, created time.Time, images []string) (v1.Image, error) {
	meta, err := Metadata(archive)
	if err != nil {
		return nil, err
	}
	return ChartWithMetadata(archive, meta, created, images)
}

// Metadata reads a chart archive's metadata as Helm's loader does. Of an
// apiVersion v2 chart it reads the top-level Chart.yaml alone, which helm
// package writes first, so the rest of the archive is not unpacked; an
// older chart (whose dependencies live in requirements.yaml) is loaded
// whole.
func Metadata(archive []byte) (*chartv2.Metadata, error) {
	if meta, ok := chartfile(archive); ok {
		return meta, nil
	}
	c, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("reading chart archive: %w", err)
	}
	return c.Metadata, nil
}

// chartfile is the metadata of the archive's top-level Chart.yaml, when it
// is the archive's first file and says apiVersion v2.
func chartfile(archive []byte) (*chartv2.Metadata, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, false
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Typeflag != tar.TypeReg || h.Size > 1<<20 {
		return nil, false
	}
	dir, file, ok := strings.Cut(h.Name, "/")
	if !ok || dir == "" || file != "Chart.yaml" {
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(tr, h.Size))
	if err != nil {
		return nil, false
	}
	meta := new(chartv2.Metadata)
	if yaml.Unmarshal(data, meta) != nil || meta.APIVersion != chartv2.APIVersionV2 {
		return nil, false
	}
	return meta, true
}

// ChartWithMetadata is Chart for a caller that already holds the metadata
// archive was packaged from (the build), sparing it a reload of the archive.
func ChartWithMetadata(archive []byte, meta *chartv2.Metadata, created time.Time, images []string) (v1.Image, error) {
	config, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	ann := map[string]string{
		api.AnnotationTitle:   meta.Name,
		api.AnnotationVersion: meta.Version,
		api.AnnotationCreated: created.UTC().Format(time.RFC3339),
	}
	if meta.Description != "" {
		ann[api.AnnotationDescription] = meta.Description
	}
	if meta.Home != "" {
		ann["org.opencontainers.image.url"] = meta.Home
	}
	if len(meta.Sources) > 0 {
		ann[api.AnnotationSource] = meta.Sources[0]
	}
	if len(images) > 0 {
		ann[api.AnnotationImages] = strings.Join(images, ",")
	}
	if len(meta.Maintainers) > 0 {
		var authors []string
		for _, m := range meta.Maintainers {
			a := m.Name
			if m.Email != "" {
				a += " (" + m.Email + ")"
			}
			authors = append(authors, a)
		}
		ann["org.opencontainers.image.authors"] = strings.Join(authors, ", ")
	}
	return newImage(config, api.MediaTypeHelmConfig, archive, types.MediaType(api.MediaTypeHelmChart), ann)
}
