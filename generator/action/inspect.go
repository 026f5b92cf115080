package action

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/publish"
)

// Inspect reads what a pushed release holds, from a registry, an OCI
// layout or a mirror archive, without pulling anything else: the bundle
// artifact, every chart its Flux objects pin, the images the charts
// declare, and which artifacts carry a signature. From may also name one
// chart artifact (oci://HOST/PREFIX/charts/NAME:VERSION).
type Inspect struct {
	// From is oci://HOST/PREFIX/bundles/NAME:VERSION (or tenants/NAME, or
	// charts/NAME, :VERSION), oci-layout:DIR or FILE.tar; Bundle is
	// NAME:VERSION where a layout or archive holds several.
	From, Bundle string
	PlainHTTP    bool
}

// Inspected is what a release holds.
type Inspected struct {
	// Bundle is the Flux artifact; nil when From names one chart.
	Bundle *InspectedArtifact  `json:"bundle,omitempty"`
	Charts []InspectedArtifact `json:"charts"`
	// Images are the images the charts declare, as the release names them.
	Images []string `json:"images,omitempty"`
}

// InspectedArtifact is one artifact of a release: where it is (with the
// HelmRelease that installs a chart and the images it declares), and what
// its manifest and config say.
type InspectedArtifact struct {
	mirror.Artifact
	// Size is the bytes of its layers.
	Size int64 `json:"size"`
	// Chart is a chart's metadata (its config blob).
	Chart       *ChartInfo        `json:"chart,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Signed: a signature tag (sha256-DIGEST.sig) is there. Whose key made
	// it is distgen verify's to say.
	Signed bool `json:"signed"`
}

// ChartInfo is what a chart's metadata says of it.
type ChartInfo struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	AppVersion  string `json:"appVersion,omitempty"`
	Description string `json:"description,omitempty"`
}

// Run reads the release (or the chart).
func (in *Inspect) Run(ctx context.Context) (*Inspected, error) {
	if prefix, chart, ok := strings.Cut(strings.TrimPrefix(in.From, publish.SchemeRegistry), "/charts/"); ok && strings.HasPrefix(in.From, publish.SchemeRegistry) {
		return in.chart(ctx, publish.SchemeRegistry+prefix, "charts/"+chart)
	}
	src, rel, err := openRelease(ctx, in.From, in.Bundle, in.PlainHTTP)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	out := &Inspected{Charts: []InspectedArtifact{}}
	b, err := describe(ctx, src, rel.Bundle)
	if err != nil {
		return nil, err
	}
	out.Bundle = &b
	for _, c := range rel.Charts {
		a, err := describe(ctx, src, c)
		if err != nil {
			return nil, err
		}
		out.Charts = append(out.Charts, a)
	}
	for _, img := range rel.Images {
		out.Images = append(out.Images, img.Source)
	}
	return out, nil
}

// chart inspects the one chart artifact repo (charts/NAME:VERSION) at
// target.
func (in *Inspect) chart(ctx context.Context, target, repo string) (*Inspected, error) {
	name, tag, ok := strings.Cut(repo, ":")
	if !ok || tag == "" {
		return nil, &UsageError{Msg: fmt.Sprintf("%q: want oci://HOST/PREFIX/charts/NAME:VERSION", in.From)}
	}
	src, err := mirror.Open(target, in.PlainHTTP)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	defer src.Close()
	img, err := src.Image(ctx, name, tag)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", name, tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	a, err := describe(ctx, src, mirror.Artifact{Repository: name, Tag: tag, Digest: d.String()})
	if err != nil {
		return nil, err
	}
	return &Inspected{Charts: []InspectedArtifact{a}, Images: a.Images}, nil
}

// describe reads one artifact's manifest, its chart metadata when it is a
// chart, and whether it is signed.
func describe(ctx context.Context, src publish.Store, a mirror.Artifact) (InspectedArtifact, error) {
	out := InspectedArtifact{Artifact: a}
	img, err := src.Image(ctx, a.Repository, a.Digest)
	if err != nil {
		return out, fmt.Errorf("%s@%s: %w", a.Repository, a.Digest, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return out, fmt.Errorf("%s@%s: %w", a.Repository, a.Digest, err)
	}
	out.Annotations = m.Annotations
	for _, l := range m.Layers {
		out.Size += l.Size
	}
	if m.Config.MediaType == api.MediaTypeHelmConfig {
		raw, err := img.RawConfigFile()
		if err != nil {
			return out, fmt.Errorf("%s@%s: %w", a.Repository, a.Digest, err)
		}
		var info ChartInfo
		if err := json.Unmarshal(raw, &info); err != nil {
			return out, fmt.Errorf("%s@%s: chart metadata: %w", a.Repository, a.Digest, err)
		}
		out.Chart = &info
		if len(out.Images) == 0 && m.Annotations[api.AnnotationImages] != "" {
			out.Images = strings.Split(m.Annotations[api.AnnotationImages], ",")
		}
	}
	d, err := v1.NewHash(a.Digest)
	if err != nil {
		return out, err
	}
	sig, err := mirror.Signatures(ctx, src, a.Repository, d)
	if err != nil {
		return out, fmt.Errorf("%s@%s: signatures: %w", a.Repository, a.Digest, err)
	}
	out.Signed = sig != nil
	return out, nil
}
