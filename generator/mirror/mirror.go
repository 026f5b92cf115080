package mirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/publish"
)

// Artifact is one artifact of a release, relative to a registry prefix.
type Artifact struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
	// Source is where an image is read from when the release is in a
	// registry: its original reference. Empty for charts and bundles.
	Source string `json:"source,omitempty"`
	// Release names the HelmRelease a chart is installed by
	// (namespace/name); Images are the original references it pulls.
	Release string   `json:"release,omitempty"`
	Images  []string `json:"images,omitempty"`
}

// Release is what a bundle release references.
type Release struct {
	Bundle Artifact   `json:"bundle"`
	Charts []Artifact `json:"charts"`
	Images []Artifact `json:"images"`
}

// Inspect reads the bundle NAME:VERSION at loc and lists every chart its
// Flux objects pin and every image those charts' artifacts declare.
func Inspect(ctx context.Context, loc publish.Store, bundle, version string) (*Release, error) {
	return InspectArtifact(ctx, loc, "bundles/"+bundle, version)
}

// InspectArtifact is Inspect for any Flux artifact distgen releases: a
// platform bundle (bundles/NAME) or a tenant (tenants/NAME, whose sources
// pin app charts under apps/).
func InspectArtifact(ctx context.Context, loc publish.Store, repo, version string) (*Release, error) {
	img, err := loc.Image(ctx, repo, version)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", repo, version, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	rel := &Release{Bundle: Artifact{Repository: repo, Tag: version, Digest: d.String()}}
	charts, err := pinnedCharts(img)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", repo, version, err)
	}
	bundle := repo
	seen := map[string]bool{}
	addImage := func(ref, where string) error {
		if ref == "" || seen[ref] {
			return nil
		}
		seen[ref] = true
		a, err := imageArtifact(ref)
		if err != nil {
			return fmt.Errorf("%s: image %q: %w", where, ref, err)
		}
		rel.Images = append(rel.Images, a)
		return nil
	}
	// The platform's own images (no chart renders them) ride on the bundle.
	bm, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	for _, ref := range strings.Split(bm.Annotations[api.AnnotationImages], ",") {
		if err := addImage(ref, bundle); err != nil {
			return nil, err
		}
	}
	for _, c := range charts {
		cimg, err := loc.Image(ctx, c.Repository, c.Digest)
		if err != nil {
			return nil, fmt.Errorf("chart %s@%s: %w", c.Repository, c.Digest, err)
		}
		m, err := cimg.Manifest()
		if err != nil {
			return nil, err
		}
		c.Tag = m.Annotations[api.AnnotationVersion]
		if c.Tag == "" {
			return nil, fmt.Errorf("chart %s@%s has no version annotation", c.Repository, c.Digest)
		}
		rel.Charts = append(rel.Charts, c)
		for _, ref := range strings.Split(m.Annotations[api.AnnotationImages], ",") {
			if ref == "" {
				continue
			}
			rel.Charts[len(rel.Charts)-1].Images = append(rel.Charts[len(rel.Charts)-1].Images, ref)
			if err := addImage(ref, "chart "+c.Repository); err != nil {
				return nil, err
			}
		}
	}
	return rel, nil
}

// MaxFluxFile bounds one file of a Flux artifact as distgen reads it.
const MaxFluxFile = 64 << 20

// EachFile calls fn with the name and content of every regular file of a
// Flux artifact (one tar+gzip layer), in the order the artifact holds
// them, each file read up to limit bytes; a larger one is an error.
func EachFile(img v1.Image, limit int64, fn func(name string, body []byte) error) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != 1 {
		return fmt.Errorf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > limit {
			return fmt.Errorf("%s: %d bytes, more than %d", h.Name, h.Size, limit)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if err := fn(h.Name, body); err != nil {
			return err
		}
	}
}

// pinnedCharts reads the chart sources of a bundle artifact: the
// OCIRepositories under charts/, with the digest each pins.
func pinnedCharts(bundle v1.Image) ([]Artifact, error) {
	prefix := "oci://${" + api.RegistryVariable + "}/"
	var out []Artifact
	err := EachFile(bundle, MaxFluxFile, func(name string, body []byte) error {
		if !strings.HasSuffix(name, ".yaml") {
			return nil
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(body), 4096)
		for {
			var obj struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
				Spec struct {
					URL string `json:"url"`
					Ref struct {
						Digest string `json:"digest"`
					} `json:"ref"`
				} `json:"spec"`
			}
			if err := dec.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("%s: %w", name, err)
			}
			if obj.Kind != "OCIRepository" || !strings.HasPrefix(obj.Spec.URL, prefix) {
				continue
			}
			if obj.Spec.Ref.Digest == "" {
				return fmt.Errorf("%s: chart source %s is not pinned by digest", name, obj.Spec.URL)
			}
			// A component's chart source and its HelmRelease share a name.
			out = append(out, Artifact{Repository: strings.TrimPrefix(obj.Spec.URL, prefix), Digest: obj.Spec.Ref.Digest,
				Release: obj.Metadata.Namespace + "/" + obj.Metadata.Name})
		}
		return nil
	})
	return out, err
}

// Relocated is where a mirror under prefix keeps the image ref.
func Relocated(prefix, ref string) (string, error) {
	a, err := imageArtifact(ref)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(prefix, "/") + "/" + a.Repository, nil
}

// RepositoryOf is ref without its tag or digest, as written.
func RepositoryOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// imageArtifact maps an image reference to where a mirror keeps it:
// images/<registry>/<repository>, the registry's port joined with "-" (a
// repository path cannot hold ":"); a digest reference keeps its digest as
// the tag "sha256-<hex>".
func imageArtifact(ref string) (Artifact, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return Artifact{}, err
	}
	registry := r.Context().RegistryStr()
	if registry == name.DefaultRegistry {
		registry = "docker.io" // as users write it, not go-containerregistry's index.docker.io
	}
	repo := "images/" + strings.ReplaceAll(registry, ":", "-") + "/" + r.Context().RepositoryStr()
	a := Artifact{Repository: repo, Source: ref}
	switch t := r.(type) {
	case name.Tag:
		a.Tag = t.TagStr()
	case name.Digest:
		// A pinned tag (repo:tag@digest) keeps its tag, which the pods
		// still pull by; a bare digest is tagged by itself.
		a.Tag = strings.Replace(t.DigestStr(), ":", "-", 1)
		if base, _, _ := strings.Cut(ref, "@"); base != RepositoryOf(base) {
			a.Tag = base[len(RepositoryOf(base))+1:]
		}
		a.Digest = t.DigestStr()
	}
	return a, nil
}

// RelocatedRef is where a mirror at prefix keeps the image ref, with its
// tag or digest: the reference to pull it from the mirror by.
func RelocatedRef(prefix, ref string) (string, error) {
	a, err := imageArtifact(ref)
	if err != nil {
		return "", err
	}
	repo := strings.TrimSuffix(prefix, "/") + "/" + a.Repository
	if a.Digest != "" {
		return repo + "@" + a.Digest, nil
	}
	return repo + ":" + a.Tag, nil
}
