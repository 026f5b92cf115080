package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"helm.sh/helm/v4/pkg/chart/common"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/artifact"
	"github.com/distgen/distgen/generator/chartdir"
	"github.com/distgen/distgen/generator/internal/scratch"
	"github.com/distgen/distgen/generator/inventory"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/render/flux"
	"github.com/distgen/distgen/generator/timing"
	"github.com/distgen/distgen/generator/upstream"
)

// ReleaseFile is the name of the release description in a build's output.
const ReleaseFile = "release.json"

// Build renders a bundle: every chart packaged, the Flux objects, and
// release.json with the digest every artifact will have once pushed.
type Build struct {
	Project
	// Out is the output directory; empty means dist/<bundle> under the
	// project root. Its previous content is replaced only when the build
	// succeeds, and only if it is a previous build's output.
	Out string
	// KubeVersion charts are rendered for.
	KubeVersion string
	// Jobs bounds how many charts are built at once; 0 means one per CPU.
	Jobs int
	// Log receives lint warnings and progress; nil discards them.
	Log io.Writer
	// Cache, when set, keeps each chart's result so that an unchanged chart
	// is not linted, rendered and packaged again.
	Cache *chart.Cache
	// Bounds limit each chart's lint and render.
	Bounds chart.Bounds
	// AllowUnbumped lets a component's content change while its version
	// stays (development builds); see UnbumpedError.
	AllowUnbumped bool
	// Strict makes Helm lint's advice an error.
	Strict bool
	// Since, when set, is the pushed release to compare with
	// (oci://HOST/PREFIX/bundles/NAME:VERSION) instead of the output
	// directory's release.json.
	Since     string
	PlainHTTP bool
	// Stages, when set, adds up the time of each stage of the build.
	Stages *timing.Stages
	// Fault, when set, is called before each write of the output (each
	// directory, file and the final swap, named); an error stops the
	// write there, as a crash would. Tests walk it over every point.
	Fault func(point string) error
}

// UnbumpedError is a build whose components (or bundle) changed content
// while keeping the version of the previous release: pushed, the tag would
// move to content other than what was released under it.
type UnbumpedError struct{ Changed []Unbumped }

// Unbumped is one artifact whose content changed under the same version.
type Unbumped struct{ What, Ref, Was, Now string }

func (e *UnbumpedError) Error() string {
	var b strings.Builder
	for i, u := range e.Changed {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s changed (%s, was %s) but its version did not: bump it, or build with --allow-unbumped", u.What, u.Ref, u.Now, u.Was)
	}
	return b.String()
}

// checkBumped compares a release with the previous one: every component
// and the bundle whose version stayed must have the same digest.
func checkBumped(prev, rel *api.Release) error {
	if prev == nil {
		return nil
	}
	was := map[string]api.ArtifactRef{}
	for _, c := range prev.Components {
		was[c.Name] = c.Chart
	}
	var changed []Unbumped
	for _, c := range rel.Components {
		if p, ok := was[c.Name]; ok && p.Tag == c.Chart.Tag && p.Digest != c.Chart.Digest {
			changed = append(changed, Unbumped{What: fmt.Sprintf("component %q", c.Name), Ref: c.Chart.Repository + ":" + c.Chart.Tag, Was: p.Digest, Now: c.Chart.Digest})
		}
	}
	if prev.Bundle == rel.Bundle && prev.Version == rel.Version && prev.Artifact.Digest != rel.Artifact.Digest {
		changed = append(changed, Unbumped{What: fmt.Sprintf("bundle %q", rel.Bundle), Ref: rel.Artifact.Repository + ":" + rel.Artifact.Tag, Was: prev.Artifact.Digest, Now: rel.Artifact.Digest})
	}
	if len(changed) > 0 {
		return &UnbumpedError{Changed: changed}
	}
	return nil
}

// pushedRelease reads what a pushed release holds, as far as the unbumped
// check needs it: the bundle's version and digest, each chart's tag and
// digest.
func pushedRelease(ctx context.Context, ref string, plainHTTP bool) (*api.Release, error) {
	src, rel, err := openRelease(ctx, ref, "", plainHTTP)
	if err != nil {
		return nil, fmt.Errorf("--since: %w", err)
	}
	defer src.Close()
	name := strings.TrimPrefix(rel.Bundle.Repository, "bundles/")
	out := &api.Release{Bundle: name, Version: rel.Bundle.Tag, Artifact: api.ArtifactRef{Repository: rel.Bundle.Repository, Tag: rel.Bundle.Tag, Digest: rel.Bundle.Digest}}
	for _, c := range rel.Charts {
		out.Components = append(out.Components, api.ReleaseComponent{
			Name:  strings.TrimPrefix(c.Repository, "charts/"),
			Chart: api.ArtifactRef{Repository: c.Repository, Tag: c.Tag, Digest: c.Digest},
		})
	}
	return out, nil
}

// previousRelease reads the release.json of a previous build in out, or
// nil when there is none.
func previousRelease(out string) (*api.Release, error) {
	if _, err := os.Stat(filepath.Join(out, ReleaseFile)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return readRelease(out)
}

// BuildResult is what a build wrote.
type BuildResult struct {
	Out     string       `json:"out"`
	Release *api.Release `json:"release"`
}

// Output is what a build produced, before it is written.
type Output struct {
	Plan    *plan.Plan
	Charts  []*chart.Chart
	Flux    []flux.File
	Release *api.Release
}

// Run builds and writes the output directory.
func (b *Build) Run(ctx context.Context) (*BuildResult, error) {
	var lo load.Options
	if b.Cache != nil {
		lo.ValuesCache = b.Cache.ValuesDir()
	}
	proj, pl, err := b.planWith(b.Stages, lo)
	if err != nil {
		return nil, err
	}
	if !api.IsName(pl.Bundle.Name) {
		return nil, &UsageError{Msg: fmt.Sprintf("bundle name %q is not a DNS-1123 label: refusing to make a path of it", pl.Bundle.Name)}
	}
	out, err := outputDir(b.Out, filepath.Join(proj.Root, "dist", pl.Bundle.Name), proj.Root)
	if err != nil {
		return nil, err
	}
	res, err := Render(ctx, proj, pl, RenderOptions{KubeVersion: b.KubeVersion, Jobs: b.Jobs, Log: b.Log, Cache: b.Cache, Bounds: b.Bounds, Strict: b.Strict, Stages: b.Stages})
	if err != nil {
		return nil, err
	}
	if !b.AllowUnbumped {
		prev, err := previousRelease(out)
		if b.Since != "" {
			prev, err = pushedRelease(ctx, b.Since, b.PlainHTTP)
		}
		if err != nil {
			return nil, err
		}
		if err := checkBumped(prev, res.Release); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	if err := write(out, res, b.Fault); err != nil {
		return nil, err
	}
	b.Stages.Since(timing.Write, start)
	return &BuildResult{Out: out, Release: res.Release}, nil
}

// RenderOptions configure Render.
type RenderOptions struct {
	KubeVersion string
	Jobs        int
	Log         io.Writer
	// Only limits the charts built to these components (for template).
	Only []string
	// Cache keeps the charts' results; nil builds every chart afresh.
	Cache *chart.Cache
	// Bounds limit each chart's lint and render.
	Bounds chart.Bounds
	// Strict makes Helm lint's advice an error.
	Strict bool
	// Stages, when set, adds up the time of each stage.
	Stages *timing.Stages
}

// lintAdvice reports Helm lint's advice, each finding once with the
// components it concerns, or fails with it when o.Strict is set.
func lintAdvice(o RenderOptions, steps []*plan.Step, charts []*chart.Chart) error {
	byMsg := map[string][]string{}
	var order []string
	var strict []error
	for i, c := range charts {
		for _, w := range c.Lint {
			if _, ok := byMsg[w]; !ok {
				order = append(order, w)
			}
			byMsg[w] = append(byMsg[w], steps[i].Component.Name)
			if o.Strict {
				strict = append(strict, &ComponentError{Component: steps[i].Component.Name, Pos: steps[i].Component.Pos, Err: fmt.Errorf("lint (--strict): %s", w)})
			}
		}
	}
	if len(strict) > 0 {
		return errors.Join(strict...)
	}
	if o.Log == nil {
		return nil
	}
	for _, w := range order {
		names := byMsg[w]
		if len(names) == 1 {
			fmt.Fprintf(o.Log, "warning: component %q: lint: %s\n", names[0], w)
			continue
		}
		shown := names
		if len(shown) > 5 {
			shown = append(shown[:5:5], "…")
		}
		fmt.Fprintf(o.Log, "warning: %d components (%s): lint: %s\n", len(names), strings.Join(shown, ", "), w)
	}
	return nil
}

// Check refuses options no build can use, before anything is rendered.
func (o RenderOptions) Check() error {
	var errs []error
	if o.Jobs < 0 {
		errs = append(errs, &UsageError{Msg: fmt.Sprintf("--jobs %d: want 0 (one per CPU) or more", o.Jobs)})
	}
	if o.KubeVersion != "" {
		if _, err := common.ParseKubeVersion(o.KubeVersion); err != nil {
			errs = append(errs, &UsageError{Msg: fmt.Sprintf("--kube-version %q: not a Kubernetes version such as %s", o.KubeVersion, chart.DefaultKubeVersion)})
		}
	}
	if o.Bounds.Timeout < 0 {
		errs = append(errs, &UsageError{Msg: fmt.Sprintf("--chart-timeout %s: want a positive duration", o.Bounds.Timeout)})
	}
	if o.Bounds.Output < 0 {
		errs = append(errs, &UsageError{Msg: fmt.Sprintf("--max-render-size %d: want a positive number of bytes", o.Bounds.Output)})
	}
	return errors.Join(errs...)
}

// Render builds a planned bundle in memory: charts (in parallel, bounded),
// their artifacts' digests, the Flux objects and the bundle's digest.
func Render(ctx context.Context, proj *api.Project, pl *plan.Plan, o RenderOptions) (*Output, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	sd, err := scratch.New("", "distgen-build-")
	if err != nil {
		return nil, err
	}
	defer sd.Remove()

	steps := pl.Steps
	if len(o.Only) > 0 {
		steps = nil
		for _, name := range o.Only {
			s := pl.Step(name)
			if s == nil {
				return nil, &UsageError{Msg: fmt.Sprintf("no enabled component %q in bundle %q", name, pl.Bundle.Name)}
			}
			steps = append(steps, s)
		}
	}
	lock, err := upstream.ReadLock(proj.Root)
	if err != nil {
		return nil, err
	}
	resolve, err := upstreamResolver(proj.Root, lock)
	if err != nil {
		return nil, err
	}
	opts := chart.Options{
		Root: proj.Root, Bundle: pl.Bundle.Name, ReleaseDate: pl.Bundle.ReleaseDate,
		KubeVersion: o.KubeVersion, ScratchDir: sd.Path, Upstream: resolve, Cache: o.Cache, Bounds: o.Bounds,
		Stages: o.Stages,
	}
	if len(o.Only) > 0 {
		opts.Cache = nil // template prints the rendered objects, which the cache does not keep
		opts.KeepManifests = true
	}
	charts := make([]*chart.Chart, len(steps))
	digests := make([]string, len(steps))
	err = forEach(ctx, o.Jobs, len(steps), func(i int) error {
		s := steps[i]
		c, err := chart.Build(s, opts)
		if err == nil {
			c.Found = componentImages(c.Found, s.Component, lock)
			c.Images = inventory.Refs(c.Found)
			start := time.Now()
			digests[i], err = chartDigest(c, pl.Bundle.ReleaseDate)
			o.Stages.Since(timing.Digest, start)
		}
		if err != nil {
			return &ComponentError{Component: s.Component.Name, Pos: s.Component.Pos, Err: err}
		}
		charts[i] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := lintAdvice(o, steps, charts); err != nil {
		return nil, err
	}
	if len(o.Only) == 0 {
		start := time.Now()
		if err := checkObjects(ctx, o, pl, charts, opts.Cache); err != nil {
			return nil, err
		}
		o.Stages.Since(timing.Check, start)
	}
	res := &Output{Plan: pl, Charts: charts}
	if len(o.Only) > 0 {
		return res, nil
	}

	byChart := map[string]string{}
	for i, s := range steps {
		byChart[s.Chart] = digests[i]
	}
	start := time.Now()
	defer o.Stages.Since(timing.Flux, start)
	var memo *flux.Memo
	if o.Cache != nil {
		memo = flux.OpenMemo(o.Cache.FluxMemo(proj.Root, pl.Bundle.Name))
	}
	res.Flux, err = flux.Render(pl, byChart, memo)
	if err != nil {
		return nil, err
	}
	memo.Save()
	rel := &api.Release{
		Bundle: pl.Bundle.Name, Version: pl.Bundle.Version,
		ReleaseDate: pl.Bundle.ReleaseDate.Format(time.RFC3339),
	}
	rel.PlatformImages = inventory.Merge(lock.PinImages(pl.Bundle.Images))
	img, err := artifact.Bundle(artifactFiles(res.Flux), BundleMeta(pl.Bundle.Name, pl.Bundle.Version, pl.Bundle.ReleaseDate, rel.PlatformImages))
	if err != nil {
		return nil, err
	}
	if rel.Artifact, err = fluxArtifactRef(img, "bundles/"+pl.Bundle.Name, pl.Bundle.Version, "flux/"); err != nil {
		return nil, err
	}
	for i, s := range steps {
		c := s.Component
		rc := api.ReleaseComponent{
			Name: c.Name, Namespace: c.Namespace, ReleaseName: c.ReleaseName,
			Chart: api.ArtifactRef{
				Repository: "charts/" + s.Chart, Tag: s.Version, Digest: digests[i],
				File:   "charts/" + chart.FileName(s.Chart, s.Version),
				SHA256: charts[i].SHA256, Size: int64(len(charts[i].Archive)),
			},
			Upstream: c.Chart.Upstream,
			Images:   charts[i].Images,
		}
		for _, d := range s.DependsOn {
			rc.DependsOn = append(rc.DependsOn, d.Name)
		}
		rel.Components = append(rel.Components, rc)
		rel.Images = inventory.Merge(rel.Images, rc.Images)
	}
	rel.Images = inventory.Merge(rel.Images, rel.PlatformImages)
	res.Release = rel
	return res, nil
}

// forEach calls fn for 0 <= i < n, at most jobs at once (0 means one per
// CPU), and returns every error in the order of i. Once ctx is done, the
// calls not yet started fail with its error.
func forEach(ctx context.Context, jobs, n int, fn func(i int) error) error {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, n)
	var g errgroup.Group
	g.SetLimit(jobs)
	for i := range n {
		g.Go(func() error {
			if errs[i] = ctx.Err(); errs[i] == nil {
				errs[i] = fn(i)
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// fluxArtifactRef records a Flux artifact: its digest and the digest and
// size of its one content layer.
func fluxArtifactRef(img v1.Image, repo, tag, file string) (api.ArtifactRef, error) {
	d, err := img.Digest()
	if err != nil {
		return api.ArtifactRef{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return api.ArtifactRef{}, err
	}
	size, err := layers[0].Size()
	if err != nil {
		return api.ArtifactRef{}, err
	}
	lh, err := layers[0].Digest()
	if err != nil {
		return api.ArtifactRef{}, err
	}
	return api.ArtifactRef{Repository: repo, Tag: tag, Digest: d.String(), File: file, SHA256: lh.Hex, Size: size}, nil
}

// upstreamResolver finds upstream chart archives: the project's vendor
// directory, then the cache by the lock's digests.
func upstreamResolver(root string, lock *upstream.Lock) (func(api.Upstream) ([]byte, error), error) {
	cache, err := upstream.DefaultCache()
	if err != nil {
		return nil, err
	}
	return func(u api.Upstream) ([]byte, error) { return upstream.Resolve(root, lock, cache, u) }, nil
}

// BundleMeta is the metadata of a bundle's artifact.
func BundleMeta(bundle, version string, created time.Time, images []string) artifact.BundleMeta {
	return artifact.BundleMeta{Source: "distgen:bundles/" + bundle, Version: version, Created: created, Images: images}
}

// componentImages adds the images a component declares to those found in
// its chart, and pins each tag the lock holds.
func componentImages(found []inventory.Found, c *api.Component, lock *upstream.Lock) []inventory.Found {
	set := inventory.NewSet()
	for _, f := range found {
		pinned := lock.PinImages([]string{f.Image})[0]
		for _, src := range f.Sources {
			set.Add(pinned, src)
		}
	}
	for _, ref := range c.Images {
		set.Add(lock.PinImages([]string{ref})[0], "bundle: component "+c.Name+" images")
	}
	return set.List()
}

func artifactFiles(files []flux.File) []artifact.File {
	out := make([]artifact.File, len(files))
	for i, f := range files {
		out[i] = artifact.File{Path: f.Path, Data: f.Data}
	}
	return out
}

// chartDigest is the digest the chart's artifact will have once pushed.
func chartDigest(c *chart.Chart, created time.Time) (string, error) {
	img, err := artifact.ChartWithMetadata(c.Archive, c.Metadata, created, c.Images)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// outputDir is the absolute path of a build's output directory, out or
// else def, once it is known that a build may replace it.
func outputDir(out, def, root string) (string, error) {
	if out == "" {
		out = def
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	if chartdir.Inside(root, out) {
		return "", &UsageError{Msg: fmt.Sprintf("output directory %s holds the project: refusing to replace it", out)}
	}
	return out, checkReplaceable(out)
}

// checkReplaceable refuses to replace a directory that is not a previous
// build's output, or that holds other outputs (a build's or an OCI
// layout) below it, so a wrong --out cannot wipe unrelated files.
func checkReplaceable(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, ReleaseFile)); err != nil {
		return &UsageError{Msg: fmt.Sprintf("output directory %s is not empty and holds no %s: refusing to replace it", out, ReleaseFile)}
	}
	var nested string
	_ = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == out {
			return err
		}
		if !d.IsDir() && filepath.Dir(path) != out && (d.Name() == ReleaseFile || d.Name() == "oci-layout") {
			nested = path
			return fs.SkipAll
		}
		return nil
	})
	if nested != "" {
		return &UsageError{Msg: fmt.Sprintf("output directory %s holds another output (%s): refusing to replace it", out, nested)}
	}
	return nil
}

// write puts the output into a temporary directory beside out and renames
// it into place, so a failed write leaves out as it was.
func write(out string, res *Output, fault func(string) error) error {
	files := map[string][]byte{}
	for _, c := range res.Charts {
		files[filepath.Join("charts", chart.FileName(c.Name, c.Version))] = c.Archive
	}
	for _, f := range res.Flux {
		files[filepath.Join("flux", filepath.FromSlash(f.Path))] = f.Data
	}
	rel, err := json.MarshalIndent(res.Release, "", "  ")
	if err != nil {
		return err
	}
	files[ReleaseFile] = append(rel, '\n')
	return writeTree(out, files, fault)
}

// writeTree writes files (by path relative to out) into a temporary
// directory beside out and swaps it into place in one step (an atomic
// rename exchange), so that out always holds either the old tree or the
// new one, even if the process is killed. What killed runs left beside out
// is removed.
func writeTree(out string, files map[string][]byte, fault func(point string) error) (err error) {
	if sameTree(out, files) {
		return nil // a rebuild of what is there: nothing to write
	}
	point := func(p string) error {
		if fault == nil {
			return nil
		}
		return fault(p)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	sd, err := scratch.New(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer sd.Remove() // after the swap, the old tree
	tmp := sd.Path
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names) // the same write points in the same order
	for _, name := range names {
		path := filepath.Join(tmp, name)
		if err := point("mkdir " + filepath.Dir(name)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := point("write " + name); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	// For others to read, whatever the umask: files 0644, directories 0755.
	err = filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return os.Chmod(path, 0o755)
		}
		return os.Chmod(path, 0o644)
	})
	if err != nil {
		return err
	}
	if err := point("swap"); err != nil {
		return err
	}
	return swap(tmp, out)
}

// swap puts the directory tmp at out. An existing out is exchanged with tmp
// in one rename (renameat2 RENAME_EXCHANGE), so there is no moment without
// it; tmp then holds the old tree. Where the file system cannot exchange,
// out is renamed aside first.
func swap(tmp, out string) error {
	if _, err := os.Lstat(out); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, out)
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, out, unix.RENAME_EXCHANGE)
	if err == nil || !(errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)) {
		return err
	}
	old := tmp + ".old"
	if err := os.Rename(out, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Rename(old, out)
		return err
	}
	return os.Rename(old, tmp)
}

// sameTree reports whether dir holds exactly files, byte for byte.
func sameTree(dir string, files map[string][]byte) bool {
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		want, ok := files[rel]
		if !ok || !d.Type().IsRegular() {
			return errDiffers
		}
		info, err := d.Info()
		if err != nil || info.Size() != int64(len(want)) {
			return errDiffers
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			return errDiffers
		}
		seen++
		return nil
	})
	return err == nil && seen == len(files)
}

var errDiffers = errors.New("differs")
