package chart

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	cutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/chartdir"
	"github.com/distgen/distgen/generator/inventory"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/render/validate"
	"github.com/distgen/distgen/generator/timing"
)

// DefaultKubeVersion is the Kubernetes version charts are rendered for
// unless a build asks for another.
const DefaultKubeVersion = "v1.33.0"

// Options configure a chart build.
type Options struct {
	// Root is the project root (for vendored upstream charts).
	Root string
	// Bundle is the bundle's name, for the notes of wrapper charts.
	Bundle string
	// ReleaseDate is stamped on every file of the chart.
	ReleaseDate time.Time
	// KubeVersion charts are linted and rendered for.
	KubeVersion string
	// ScratchDir is a directory the build may write into (lint needs the
	// chart on disk).
	ScratchDir string
	// Upstream returns the archive of an upstream chart a wrapper depends
	// on, checked against its pinned or locked digest.
	Upstream func(api.Upstream) ([]byte, error)
	// Limits bound the files of a chart directory; zero fields take
	// chartdir.DefaultLimits.
	Limits chartdir.Limits
	// Bounds limit the time and output of one chart's lint and render;
	// zero fields take DefaultBounds.
	Bounds Bounds
	// Cache, when set, keeps every chart's result, so an unchanged chart is
	// not linted, rendered and packaged again.
	Cache *Cache
	// Stages, when set, adds up the time of each stage of the build.
	Stages *timing.Stages
	// KeepManifests keeps each chart's rendered objects in Manifests (for
	// template, which prints them). A build drops them once the chart is
	// built, so that a release's memory is not the sum of its renders.
	KeepManifests bool
}

func (o Options) limits() chartdir.Limits {
	l := o.Limits
	if l.File <= 0 {
		l.File = chartdir.DefaultLimits.File
	}
	if l.Chart <= 0 {
		l.Chart = chartdir.DefaultLimits.Chart
	}
	return l
}

// Chart is a packaged chart.
type Chart struct {
	Name     string
	Version  string
	Metadata *chartv2.Metadata
	// Archive is the .tgz, byte-for-byte what is written and pushed.
	Archive []byte
	// SHA256 is the archive's SHA-256, hex (computed as the chart builds,
	// in parallel with the others).
	SHA256 string
	// Manifests are the rendered objects by source file ("name/templates/x.yaml",
	// CRDs as "name/crds/x.yaml"), empty output left out, with
	// Options.KeepManifests. A chart read from the cache has none; Render
	// renders it again.
	Manifests map[string]string
	// Cached is set for a chart read from the cache: it has no CRDs,
	// Custom or Parsed until rendered again (Objects).
	Cached bool
	// Lint holds Helm lint's messages below error severity.
	Lint []string
	// Images the rendered objects pull, and those the chart declares in its
	// helm.sh/images annotation, its final values and its files name;
	// normalized and sorted.
	Images []string
	// Found lists each image with where it was found.
	Found []inventory.Found
	// CRDs and Custom are the chart's CustomResourceDefinitions and custom
	// resources, for validate.Release; its objects of Kubernetes' own
	// kinds were checked when it rendered. A chart read from the cache has
	// none; Render renders it again.
	CRDs, Custom []validate.Object
	// Parsed are the CRDs parsed and checked as the API server would take
	// them, with the problems found, as Build parsed them: while other
	// charts build rather than after them all.
	Parsed    []*validate.CRD
	CRDErrors []error
	// Key is the chart's cache key; empty without a cache.
	Key string

	// loaded is the chart as Helm loads it; a chart read from the cache is
	// loaded on first use (lazy), which most builds never need.
	loaded  *chartv2.Chart
	lazy    func() (*chartv2.Chart, error)
	once    sync.Once
	loadErr error
	caps    *common.Capabilities
	stages  *timing.Stages
	// cache is the cache a chart was read from.
	cache  *Cache
	bounds Bounds
	// asIs takes the chart as it is: no lint, no schema check.
	asIs bool
}

// HasValue reports whether the chart's values.yaml sets the top-level key.
func (c *Chart) HasValue(key string) bool {
	ch, err := c.chart()
	if err != nil {
		return false
	}
	_, ok := ch.Values[key]
	return ok
}

// chart is the loaded chart, loading it the first time for a chart read
// from the cache.
func (c *Chart) chart() (*chartv2.Chart, error) {
	c.once.Do(func() {
		if c.loaded == nil && c.lazy != nil {
			c.loaded, c.loadErr = c.lazy()
		}
	})
	return c.loaded, c.loadErr
}

// Render renders the chart as the release name in namespace with values
// over the chart's own, as Helm would install it, and returns the rendered
// objects by source file and the images they and the chart declare.
func (c *Chart) Render(release, namespace string, values map[string]any) (map[string]string, []inventory.Found, error) {
	r, err := c.again(release, namespace, values)
	if err != nil {
		return nil, nil, err
	}
	return r.manifests, r.found, nil
}

// Objects renders the chart again as Build did and returns its CRDs and
// custom resources: for a chart read from the cache, which has none.
func (c *Chart) Objects(release, namespace string, values map[string]any) (crds, custom []validate.Object, err error) {
	r, err := c.again(release, namespace, values)
	if err != nil {
		return nil, nil, err
	}
	return r.crds, r.custom, nil
}

// again renders the chart after Build, within its bounds, loading it
// first if it was dropped or read from the cache.
func (c *Chart) again(release, namespace string, values map[string]any) (*rendered, error) {
	b := c.bounds.orDefault()
	loaded, err := c.chart()
	if err != nil {
		return nil, err
	}
	return c.render(loaded, b, time.Now().Add(b.Timeout), release, namespace, values)
}

// CachedObjects returns what the release's check needs of a chart read
// from the cache, as the cache kept it when the chart was built: its CRDs
// as parsed and checked, and its custom resources; ok is false when the
// cache has none (the chart is then rendered again, with Objects).
func (c *Chart) CachedObjects() (crds []*validate.CRD, custom []validate.Object, ok bool) {
	if c.cache == nil || c.Key == "" {
		return nil, nil, false
	}
	e, ok := c.cache.objects(c.Key)
	if !ok {
		return nil, nil, false
	}
	for _, r := range e.CRDs {
		crds = append(crds, r.CRD())
	}
	return crds, e.Custom, true
}

// rendered is what rendering a chart yields.
type rendered struct {
	manifests    map[string]string
	found        []inventory.Found
	crds, custom []validate.Object
}

// render renders within the bounds b, by the deadline.
func (c *Chart) render(loaded *chartv2.Chart, b Bounds, deadline time.Time, release, namespace string, values map[string]any) (*rendered, error) {
	start := time.Now()
	// Helm is handed copies: its coalescing writes into the maps it gets.
	vals, err := cutil.ToRenderValues(loaded, plan.Clone(values), common.ReleaseOptions{
		Name: release, Namespace: namespace, IsInstall: true,
	}, c.caps)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	out, err := within(b, deadline, "rendering", func() (map[string]string, error) {
		e := engine.Engine{CustomTemplateFuncs: guardFuncs(b, deadline)}
		return e.RenderWithContext(context.Background(), loaded, vals)
	})
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	manifests := map[string]string{}
	for name, body := range out {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(body) == "" {
			continue
		}
		manifests[name] = body
	}
	for _, crd := range loaded.CRDObjects() {
		manifests[crd.Filename] = string(crd.File.Data)
	}
	c.stages.Since(timing.Render, start)
	if err := b.checkOutput(manifests); err != nil {
		return nil, err
	}
	start = time.Now()
	split := validate.Manifests(manifests)
	c.stages.Since(timing.Validate, start)
	if len(split.Errs) > 0 && !c.asIs {
		return nil, &InvalidError{Errs: split.Errs}
	}
	start = time.Now()
	defer c.stages.Since(timing.Images, start)
	images := inventory.NewSet()
	if err := images.AddManifests(manifests); err != nil {
		return nil, fmt.Errorf("image inventory: %w", err)
	}
	if err := images.AddChart(loaded); err != nil {
		return nil, fmt.Errorf("image inventory: %w", err)
	}
	text := inventory.RenderedText(manifests)
	if final, ok := vals["Values"].(common.Values); ok {
		images.AddValues(final, text)
	}
	images.AddFiles(loaded, text)
	return &rendered{manifests: manifests, found: images.List(), crds: split.CRDs, custom: split.Custom}, nil
}

// InvalidError lists the rendered objects the API server would refuse.
type InvalidError struct{ Errs []error }

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	if len(msgs) == 1 {
		return "rendered object refused: " + msgs[0]
	}
	return fmt.Sprintf("%d rendered objects refused:\n  %s", len(msgs), strings.Join(msgs, "\n  "))
}

func (e *InvalidError) Unwrap() []error { return e.Errs }

// capabilities are Helm's default capabilities for Kubernetes kubeVersion
// ("" for DefaultKubeVersion).
func capabilities(kubeVersion string) (*common.Capabilities, error) {
	caps := common.DefaultCapabilities.Copy()
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", kubeVersion, err)
	}
	caps.KubeVersion = *kv
	return caps, nil
}

// FromArchive loads a packaged chart (a release's .tgz) to render it as
// it is, as Flux would install it: no lint and no schema check, within the
// bounds b, for Kubernetes kubeVersion ("" for DefaultKubeVersion).
func FromArchive(archive []byte, kubeVersion string, b Bounds) (*Chart, error) {
	caps, err := capabilities(kubeVersion)
	if err != nil {
		return nil, err
	}
	loaded, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, err
	}
	return &Chart{Name: loaded.Name(), Version: loaded.Metadata.Version, Metadata: loaded.Metadata, Archive: archive,
		loaded: loaded, caps: caps, bounds: b, asIs: true}, nil
}

// Build packages, lints and renders the chart of one step.
func Build(s *plan.Step, opts Options) (*Chart, error) {
	comp := s.Component
	caps, err := capabilities(opts.KubeVersion)
	if err != nil {
		return nil, err
	}

	// The key is taken from what is read, before Helm parses anything, and
	// from the stat index without reading when the chart directory's files
	// are as they were: an unchanged chart is neither read nor loaded,
	// linted, rendered and packaged again.
	var src *source
	var cacheKey, fp string
	var digest []byte
	if opts.Cache != nil {
		start := time.Now()
		var names map[string]bool
		if comp.ChartDir != "" {
			entries, err := chartdir.List(comp.ChartDir, shownPath(s, opts), opts.limits())
			if err != nil {
				return nil, err
			}
			names = make(map[string]bool, len(entries))
			for _, e := range entries {
				names[e.Name] = true
			}
			var settled bool
			if fp, settled = fingerprint(comp.ChartDir, entries, start); settled {
				digest, _ = opts.Cache.digestOf(fp)
			} else {
				fp = ""
			}
		}
		opts.Stages.Since(timing.Key, start)
		if digest == nil {
			start := time.Now()
			if src, err = read(s, opts); err != nil {
				return nil, err
			}
			opts.Stages.Since(timing.Read, start)
			start = time.Now()
			digest, names = filesDigest(src), src.names()
			if fp != "" {
				opts.Cache.putDigest(fp, digest)
			}
			opts.Stages.Since(timing.Key, start)
		}
		start = time.Now()
		if cacheKey, err = key(digest, names, s, opts); err != nil {
			return nil, err
		}
		archive, e, ok := opts.Cache.get(cacheKey)
		opts.Stages.Since(timing.Key, start)
		if ok && e.Metadata != nil {
			if err := opts.Bounds.orDefault().checkSize(e.Rendered); err != nil {
				return nil, fmt.Errorf("render: %w", err)
			}
			return &Chart{
				Name: s.Chart, Version: s.Version, Metadata: e.Metadata,
				Archive: archive, SHA256: e.SHA256, Lint: e.Lint, Images: inventory.Refs(e.Found), Found: e.Found,
				lazy: func() (*chartv2.Chart, error) { return reread(s, opts, digest) },
				caps: caps, bounds: opts.Bounds, asIs: comp.AsIs, Key: cacheKey, stages: opts.Stages, Cached: true,
				cache: opts.Cache,
			}, nil
		}
	}
	if src == nil {
		start := time.Now()
		if src, err = read(s, opts); err != nil {
			return nil, err
		}
		opts.Stages.Since(timing.Read, start)
		// The stat index said what the files held; they are hashed again
		// as read, so the key is that of what is built.
		if now := filesDigest(src); digest != nil && !bytes.Equal(now, digest) {
			if cacheKey, err = key(now, src.names(), s, opts); err != nil {
				return nil, err
			}
			if fp != "" {
				opts.Cache.putDigest(fp, now)
			}
			digest = now
		}
	}
	start := time.Now()
	c, err := src.load(s, opts)
	if err != nil {
		return nil, err
	}
	opts.Stages.Since(timing.Chart, start)

	stage, err := os.MkdirTemp(opts.ScratchDir, "chart-"+s.Chart+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	out := &Chart{Name: s.Chart, Version: s.Version, Metadata: c.Metadata, caps: caps, bounds: opts.Bounds, asIs: comp.AsIs, Key: cacheKey, stages: opts.Stages}
	// Rendered once, with the guarded template functions, so that a
	// runaway template is stopped; lint and the image inventory read this
	// one render.
	b := opts.Bounds.orDefault()
	deadline := time.Now().Add(b.Timeout)
	r, err := out.render(c, b, deadline, comp.ReleaseName, comp.Namespace, s.Values)
	if err != nil {
		return nil, err
	}
	out.Manifests, out.Found, out.CRDs, out.Custom = r.manifests, r.found, r.crds, r.custom
	out.Images = inventory.Refs(out.Found)
	start = time.Now()
	out.Parsed, out.CRDErrors = validate.ParseCRDs(out.CRDs)
	opts.Stages.Since(timing.Validate, start)
	if !comp.AsIs {
		start := time.Now()
		if out.Lint, err = runLint(b, deadline, stage, c, s, out.Manifests, &caps.KubeVersion); err != nil {
			return nil, err
		}
		opts.Stages.Since(timing.Lint, start)
	}

	start = time.Now()
	path, err := chartutil.Save(c, stage)
	if err != nil {
		return nil, fmt.Errorf("packaging: %w", err)
	}
	if out.Archive, err = os.ReadFile(path); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(out.Archive)
	out.SHA256 = hex.EncodeToString(sum[:])
	opts.Stages.Since(timing.Package, start)
	if opts.Cache != nil {
		start := time.Now()
		opts.Cache.put(cacheKey, out)
		opts.Cache.putObjects(cacheKey, out)
		opts.Stages.Since(timing.Store, start)
	}
	if !opts.KeepManifests {
		// What a release keeps of each chart while the others build is
		// its archive and what the release's check needs: the loaded
		// chart is read again if it is rendered again.
		out.Manifests = nil
		if digest == nil {
			digest = filesDigest(src)
		}
		out.lazy = func() (*chartv2.Chart, error) { return reread(s, opts, digest) }
	} else {
		out.loaded = c
	}
	return out, nil
}

// advisory are Helm lint errors that Helm itself does not refuse at install
// (helm package and helm install take such charts): they are advice.
var advisory = []string{
	// Subcharts vendored under charts/ that Chart.yaml does not list.
	"chart metadata is missing these dependencies",
}

// runLint runs Helm lint on the staged chart and returns its advice;
// findings that mean Helm would refuse the chart are an error.
func runLint(b Bounds, deadline time.Time, stage string, c *chartv2.Chart, s *plan.Step, manifests map[string]string, kv *common.KubeVersion) ([]string, error) {
	dir, err := stageForLint(c, stage)
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	linted, err := within(b, deadline, "linting", func() (support.Linter, error) {
		return lintChart(dir, c, plan.Clone(s.Values), manifests, kv), nil
	})
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	var errs []error
	var advice []string
	for _, m := range linted.Messages {
		path := strings.TrimPrefix(m.Path, stage+string(filepath.Separator))
		if path == c.Name() {
			path = "Chart.yaml"
		}
		msg := fmt.Sprintf("%s: %v", path, m.Err)
		switch {
		case m.Severity >= support.ErrorSev && !isAdvisory(m.Err):
			errs = append(errs, errors.New(msg))
		case m.Severity >= support.WarningSev:
			advice = append(advice, msg)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("lint: %w", errors.Join(errs...))
	}
	return advice, nil
}

func isAdvisory(err error) bool {
	for _, a := range advisory {
		if strings.Contains(err.Error(), a) {
			return true
		}
	}
	return false
}

// FileName is the name of a chart's archive.
func FileName(name, version string) string { return name + "-" + version + ".tgz" }

// SortedManifests returns the rendered objects as one YAML stream, ordered by
// source file, each under a "# Source:" comment like helm template prints.
func (c *Chart) SortedManifests() string {
	names := make([]string, 0, len(c.Manifests))
	for n := range c.Manifests {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		body := strings.TrimLeft(c.Manifests[n], "\n")
		body = strings.TrimPrefix(body, "---\n")
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", n, body)
		if !strings.HasSuffix(body, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// source is what a chart build reads: the files of the chart directory,
// or the upstream archives a wrapper chart depends on.
type source struct {
	files    []*archive.BufferedFile
	upstream [][]byte
}

// read reads what the chart of a step is built from.
func read(s *plan.Step, opts Options) (*source, error) {
	comp := s.Component
	src := &source{}
	if comp.ChartDir != "" {
		var err error
		if src.files, err = chartdir.Read(comp.ChartDir, shownPath(s, opts), opts.limits()); err != nil {
			return nil, err
		}
		return src, nil
	}
	for _, u := range comp.Chart.Upstream {
		if opts.Upstream == nil {
			return nil, fmt.Errorf("no source for upstream chart %s %s", u.Name, u.Version)
		}
		archive, err := opts.Upstream(u)
		if err != nil {
			return nil, err
		}
		src.upstream = append(src.upstream, archive)
	}
	return src, nil
}

// reread reads and loads the chart of a step that came from the cache,
// which must still hold what the cache key was taken from.
func reread(s *plan.Step, opts Options, digest []byte) (*chartv2.Chart, error) {
	src, err := read(s, opts)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(filesDigest(src), digest) {
		return nil, fmt.Errorf("chart %s changed while it was being built", shownPath(s, opts))
	}
	return src.load(s, opts)
}

// shownPath is how errors name a step's chart directory.
func shownPath(s *plan.Step, opts Options) string {
	shown := s.Component.Chart.Path
	if shown == "" { // an app chart
		shown, _ = filepath.Rel(opts.Root, s.Component.ChartDir)
	}
	return filepath.ToSlash(shown)
}

// names are the names of a chart directory's files.
func (src *source) names() map[string]bool {
	names := make(map[string]bool, len(src.files))
	for _, f := range src.files {
		names[f.Name] = true
	}
	return names
}

// load loads the chart of a step as Helm does and sets what distgen owns:
// name, version, apiVersion v2, the merged values.yaml and the release
// date as every file's time.
func (src *source) load(s *plan.Step, opts Options) (*chartv2.Chart, error) {
	comp := s.Component
	var c *chartv2.Chart
	if comp.ChartDir != "" {
		// Helm's loader keeps the files it is given.
		files := make([]*archive.BufferedFile, len(src.files))
		for i, f := range src.files {
			files[i] = &archive.BufferedFile{Name: f.Name, Data: f.Data}
		}
		var err error
		if c, err = loader.LoadFiles(files); err != nil {
			return nil, fmt.Errorf("loading chart %s: %w", comp.Chart.Path, err)
		}
		// Values files other than values.yaml are merged into values.yaml;
		// shipping them too would suggest they still apply.
		extra := map[string]bool{}
		for _, f := range comp.ValuesFiles {
			if f != chartutil.ValuesfileName {
				extra[filepath.ToSlash(f)] = true
			}
		}
		kept := c.Files[:0]
		for _, f := range c.Files {
			if !extra[f.Name] {
				kept = append(kept, f)
			}
		}
		c.Files = kept
	} else {
		var err error
		if c, err = wrapper(s, opts, src.upstream); err != nil {
			return nil, err
		}
	}
	c.Metadata.APIVersion = chartv2.APIVersionV2
	c.Metadata.Name = s.Chart
	c.Metadata.Version = s.Version
	if c.Metadata.AppVersion == "" && len(comp.Chart.Upstream) == 1 {
		c.Metadata.AppVersion = comp.Chart.Upstream[0].Version
	}
	if err := setValues(c, s); err != nil {
		return nil, err
	}
	c.StampModTimes(opts.ReleaseDate)
	return c, nil
}

// setValues makes the chart's values.yaml the merged values files. When the
// values files are just values.yaml, it is kept as written, comments and all.
func setValues(c *chartv2.Chart, s *plan.Step) error {
	c.Values = plan.Clone(s.ChartValues)
	var raw *common.File
	for _, f := range c.Raw {
		if f.Name == chartutil.ValuesfileName {
			raw = f
		}
	}
	files := s.Component.ValuesFiles
	asWritten := len(files) == 1 && files[0] == chartutil.ValuesfileName
	if raw != nil && asWritten {
		return nil
	}
	data := []byte("{}\n")
	if len(s.ChartValues) > 0 {
		var err error
		if data, err = yaml.Marshal(s.ChartValues); err != nil {
			return fmt.Errorf("values: %w", err)
		}
	}
	if len(files) > 0 && !asWritten {
		data = append([]byte(fmt.Sprintf("# Merged by distgen from %s.\n", strings.Join(files, ", "))), data...)
	}
	if raw == nil {
		c.Raw = append(c.Raw, &common.File{Name: chartutil.ValuesfileName, Data: data})
	} else {
		raw.Data = data
	}
	return nil
}

// wrapper builds the chart of a component that wraps upstream charts: the
// vendored upstream archives are its dependencies.
func wrapper(s *plan.Step, opts Options, archives [][]byte) (*chartv2.Chart, error) {
	comp := s.Component
	c := &chartv2.Chart{Metadata: &chartv2.Metadata{
		APIVersion:  chartv2.APIVersionV2,
		Name:        s.Chart,
		Version:     s.Version,
		Type:        "application",
		Description: fmt.Sprintf("%s for the %s platform, wrapping upstream charts", comp.Name, opts.Bundle),
	}}
	var notes strings.Builder
	fmt.Fprintf(&notes, "%s wraps these upstream charts with the platform's values:\n", comp.Name)
	for i, u := range comp.Chart.Upstream {
		sub, err := loader.LoadArchive(bytes.NewReader(archives[i]))
		if err != nil {
			return nil, fmt.Errorf("loading upstream chart %s %s: %w", u.Name, u.Version, err)
		}
		if sub.Metadata.Name != u.Name || sub.Metadata.Version != u.Version {
			return nil, fmt.Errorf("vendored chart %s holds %s %s, want %s %s",
				u.ArchiveName(), sub.Metadata.Name, sub.Metadata.Version, u.Name, u.Version)
		}
		c.Metadata.Dependencies = append(c.Metadata.Dependencies, &chartv2.Dependency{
			Name: u.Name, Version: u.Version, Repository: u.Repository, Alias: u.Alias,
		})
		c.AddDependency(sub)
		fmt.Fprintf(&notes, "- %s %s from %s\n", u.Name, u.Version, u.Repository)
	}
	c.Templates = []*common.File{{Name: "templates/NOTES.txt", Data: []byte(notes.String())}}
	return c, nil
}
