package artifact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/distgen/distgen/generator/api"
)

// Chart is the Helm OCI artifact of a packaged chart: config = the chart's
// metadata as JSON, one layer = the archive, the annotations helm push sets
// with created = the release date, and the images the release pulls.
// The metadata is read from the archive itself, so the artifact follows
// from the bytes alone.
func Chart(archive []byte, created time.Time, images []string) (v1.Image, error) {
	c, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("reading chart archive: %w", err)
	}
	return ChartWithMetadata(archive, c.Metadata, created, images)
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
