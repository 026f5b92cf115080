package action

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/chartdir"
	"github.com/distgen/distgen/generator/internal/manifest"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/render/flux"
)

// A diff side is named by one of these:
//
//   - a build output directory (holding release.json), or its release.json;
//   - a project directory (holding cue.mod), built first into a temporary
//     directory through the build cache;
//   - a pushed release: oci://HOST/PREFIX/bundles/NAME:VERSION, an OCI
//     layout (oci-layout:DIR) or a mirror archive (FILE.tar).
//
// Each is read as the same view: the release as release.json states it,
// the files of its Flux artifact and each component's chart archive.
type sideSource struct {
	rel *api.Release
	// file reads one file of the Flux artifact ("components/x.yaml").
	file func(name string) ([]byte, error)
	// chart reads a component's chart archive.
	chart func(ctx context.Context, c api.ReleaseComponent) ([]byte, error)
	close func()
}

// openSide opens what spec names (see sideSource).
func (d *Diff) openSide(ctx context.Context, spec string) (*sideSource, error) {
	switch {
	case strings.HasPrefix(spec, publish.SchemeRegistry), strings.HasPrefix(spec, publish.SchemeLayout), publish.IsArchive(spec):
		bundle := d.Bundle
		if !strings.Contains(bundle, ":") {
			bundle = "" // a name alone: the layout's one bundle
		}
		return openPushedSide(ctx, spec, bundle, d.PlainHTTP)
	}
	dir := spec
	if filepath.Base(spec) == ReleaseFile {
		dir = filepath.Dir(spec)
	}
	if _, err := os.Stat(filepath.Join(dir, ReleaseFile)); err == nil {
		return openDirSide(dir)
	}
	if fi, err := os.Stat(filepath.Join(dir, "cue.mod")); err == nil && fi.IsDir() {
		return d.buildSide(ctx, dir)
	}
	return nil, &UsageError{Msg: fmt.Sprintf("%s: not a build directory (no %s), a project (no cue.mod) or a pushed release (oci://…, oci-layout:…, FILE.tar)", spec, ReleaseFile)}
}

// openDirSide reads a build output directory.
func openDirSide(dir string) (*sideSource, error) {
	rel, err := readRelease(dir)
	if err != nil {
		return nil, err
	}
	return &sideSource{
		rel: rel,
		file: func(name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, "flux", filepath.FromSlash(name)))
		},
		chart: func(_ context.Context, c api.ReleaseComponent) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, filepath.FromSlash(c.Chart.File)))
		},
		close: func() {},
	}, nil
}

// buildSide builds the project at dir (the diff's bundle) into a temporary
// directory and reads it.
func (d *Diff) buildSide(ctx context.Context, dir string) (*sideSource, error) {
	tmp, err := os.MkdirTemp("", "distgen-diff-")
	if err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, "build")
	name, _, _ := strings.Cut(d.Bundle, ":")
	b := &Build{Project: Project{Dir: dir, Bundle: name}, Out: out, Cache: d.Cache, AllowUnbumped: true}
	if _, err := b.Run(ctx); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	s, err := openDirSide(out)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	s.close = func() { os.RemoveAll(tmp) }
	return s, nil
}

// openPushedSide reads a pushed release: its bundle artifact's files, and
// release.json's view of it rebuilt from the artifacts' Flux objects,
// annotations and chart metadata.
func openPushedSide(ctx context.Context, spec, bundle string, plainHTTP bool) (*sideSource, error) {
	src, mrel, err := openRelease(ctx, spec, bundle, plainHTTP)
	if err != nil {
		return nil, err
	}
	s, err := pushedSide(ctx, src, mrel)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	return s, nil
}

func pushedSide(ctx context.Context, src publish.Store, mrel *mirror.Release) (*sideSource, error) {
	img, err := src.Image(ctx, mrel.Bundle.Repository, mrel.Bundle.Digest)
	if err != nil {
		return nil, err
	}
	files, err := fluxFiles(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mrel.Bundle.Repository, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	name := path.Base(mrel.Bundle.Repository)
	version, _, _ := strings.Cut(m.Annotations[api.AnnotationRevision], "@")
	if version == "" {
		version = mrel.Bundle.Tag
	}
	rel := &api.Release{Bundle: name, Version: version, ReleaseDate: m.Annotations[api.AnnotationCreated], Artifact: api.ArtifactRef{Repository: mrel.Bundle.Repository, Tag: mrel.Bundle.Tag, Digest: mrel.Bundle.Digest}}
	if pi := m.Annotations[api.AnnotationImages]; pi != "" {
		rel.PlatformImages = strings.Split(pi, ",")
	}
	for _, im := range mrel.Images {
		rel.Images = append(rel.Images, im.Source)
	}
	slices.Sort(rel.Images)
	charts := map[string]mirror.Artifact{}
	for _, c := range mrel.Charts {
		charts[c.Release] = c
	}
	// The components in the order the artifact's kustomization lists
	// them, which is release.json's (the order they install in).
	var kust struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(files["kustomization.yaml"], &kust); err != nil {
		return nil, fmt.Errorf("%s: kustomization.yaml: %w", mrel.Bundle.Repository, err)
	}
	var names []string
	for _, f := range kust.Resources {
		if n, ok := strings.CutPrefix(path.Clean(f), "components/"); ok && strings.HasSuffix(n, ".yaml") {
			names = append(names, strings.TrimSuffix(n, ".yaml"))
		}
	}
	for _, n := range names {
		c, err := pushedComponent(ctx, src, n, files[flux.ComponentFile(n)], charts)
		if err != nil {
			return nil, fmt.Errorf("component %q: %w", n, err)
		}
		rel.Components = append(rel.Components, c)
	}
	return &sideSource{
		rel: rel,
		file: func(name string) ([]byte, error) {
			b, ok := files[name]
			if !ok {
				return nil, fmt.Errorf("%s: %w", name, os.ErrNotExist)
			}
			return b, nil
		},
		chart: func(ctx context.Context, c api.ReleaseComponent) ([]byte, error) {
			return chartArchive(ctx, src, c.Chart.Repository, c.Chart.Digest)
		},
		close: func() { src.Close() },
	}, nil
}

// pushedComponent is what release.json says of component n, read from its
// Flux objects (body) and its chart artifact.
func pushedComponent(ctx context.Context, src publish.Store, n string, body []byte, charts map[string]mirror.Artifact) (api.ReleaseComponent, error) {
	c := api.ReleaseComponent{Name: n}
	docs, err := manifest.Docs(string(body))
	if err != nil {
		return c, err
	}
	var key string
	for _, doc := range docs {
		switch manifest.ReadHeader(doc).Kind {
		case helmv2.HelmReleaseKind:
			var hr helmv2.HelmRelease
			if err := yaml.Unmarshal(doc, &hr); err != nil {
				return c, err
			}
			c.Namespace, c.ReleaseName = hr.Spec.TargetNamespace, hr.Spec.ReleaseName
			if c.Namespace == "" {
				c.Namespace = hr.Namespace
			}
			for _, dep := range hr.Spec.DependsOn {
				c.DependsOn = append(c.DependsOn, dep.Name)
			}
		case sourcev1.OCIRepositoryKind:
			var or sourcev1.OCIRepository
			if err := yaml.Unmarshal(doc, &or); err != nil {
				return c, err
			}
			key = or.Namespace + "/" + or.Name
		}
	}
	a, ok := charts[key]
	if !ok {
		return c, fmt.Errorf("no chart source pinned by digest")
	}
	c.Chart = api.ArtifactRef{Repository: a.Repository, Tag: a.Tag, Digest: a.Digest}
	c.Images = slices.Clone(a.Images)
	slices.Sort(c.Images)
	img, err := src.Image(ctx, a.Repository, a.Digest)
	if err != nil {
		return c, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return c, err
	}
	var meta struct {
		Dependencies []struct {
			Name, Version, Repository, Alias string
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return c, fmt.Errorf("chart metadata: %w", err)
	}
	for _, dep := range meta.Dependencies {
		if dep.Repository == "" {
			continue // a subchart of the package's own, not an upstream
		}
		c.Upstream = append(c.Upstream, api.Upstream{Name: dep.Name, Version: dep.Version, Repository: dep.Repository, Alias: dep.Alias})
	}
	return c, nil
}

// fluxFiles reads the files of a Flux artifact by path.
func fluxFiles(img v1.Image) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := mirror.EachFile(img, mirror.MaxFluxFile, func(name string, body []byte) error {
		files[path.Clean(name)] = body
		return nil
	})
	return files, err
}

// chartArchive reads the chart archive (the chart content layer) of the
// chart artifact repo@digest.
func chartArchive(ctx context.Context, src publish.Store, repo, digest string) ([]byte, error) {
	img, err := src.Image(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		if mt != api.MediaTypeHelmChart {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, chartdir.DefaultLimits.Chart+1))
		if err == nil && int64(len(b)) > chartdir.DefaultLimits.Chart {
			err = fmt.Errorf("%s@%s: chart archive larger than %d bytes", repo, digest, chartdir.DefaultLimits.Chart)
		}
		return b, err
	}
	return nil, fmt.Errorf("%s@%s has no chart layer", repo, digest)
}
