package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/artifact"
	"github.com/distgen/distgen/generator/chartdir"
	"github.com/distgen/distgen/generator/internal/scratch"
	"github.com/distgen/distgen/generator/inventory"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/render/flux"
	"github.com/distgen/distgen/generator/render/tenant"
)

// TenantsDir is where tenant builds go under the project's dist/.
const TenantsDir = "tenants"

// TenantProject says which project and tenant bundle an action works on.
type TenantProject struct {
	Dir string
	// Bundle is the tenant bundle's name; empty when there is only one.
	Bundle string
}

// Load loads the project and selects the tenant bundle.
func (p TenantProject) Load() (*api.Project, *api.TenantBundle, error) {
	proj, err := loadProject(p.Dir)
	if err != nil {
		return nil, nil, err
	}
	b, err := load.TenantBundle(proj, p.Bundle)
	if err != nil {
		return nil, nil, err
	}
	return proj, b, nil
}

// TenantBuild builds a tenant bundle: every app chart its instances use,
// once, and per tenant the Flux artifact of its objects.
type TenantBuild struct {
	TenantProject
	// Out is the output directory; empty means dist/tenants/<bundle>.
	Out         string
	KubeVersion string
	Jobs        int
	Log         io.Writer
	// Cache keeps the app charts' results; nil builds them afresh.
	Cache *chart.Cache
	// Bounds limit each chart's lint and render.
	Bounds chart.Bounds
}

// TenantOutput is a tenant bundle built in memory.
type TenantOutput struct {
	Apps []*chart.Chart
	// Files per tenant, by tenant name.
	Files   map[string][]flux.File
	Release *api.TenantRelease
}

// TenantBuildResult is where a tenant build went and what it recorded.
type TenantBuildResult struct {
	Out     string             `json:"out"`
	Release *api.TenantRelease `json:"release"`
}

// Run builds and writes the output directory.
func (b *TenantBuild) Run(ctx context.Context) (*TenantBuildResult, error) {
	proj, tb, err := b.Load()
	if err != nil {
		return nil, err
	}
	if !api.IsName(tb.Name) {
		return nil, &UsageError{Msg: fmt.Sprintf("tenant bundle name %q is not a DNS-1123 label: refusing to make a path of it", tb.Name)}
	}
	out, err := outputDir(b.Out, filepath.Join(proj.Root, "dist", TenantsDir, tb.Name), proj.Root)
	if err != nil {
		return nil, err
	}
	res, err := RenderTenants(ctx, proj, tb, RenderOptions{KubeVersion: b.KubeVersion, Jobs: b.Jobs, Log: b.Log, Cache: b.Cache, Bounds: b.Bounds})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, c := range res.Apps {
		files[filepath.Join("apps", chart.FileName(c.Name, c.Version))] = c.Archive
	}
	for name, fs := range res.Files {
		for _, f := range fs {
			files[filepath.Join(TenantsDir, name, filepath.FromSlash(f.Path))] = f.Data
		}
	}
	rel, err := json.MarshalIndent(res.Release, "", "  ")
	if err != nil {
		return nil, err
	}
	files[ReleaseFile] = append(rel, '\n')
	if err := writeTree(out, files, nil); err != nil {
		return nil, err
	}
	return &TenantBuildResult{Out: out, Release: res.Release}, nil
}

// appStep is the build step of an app chart: its chart directory and
// values.yaml, at the version versions.cue pins.
func appStep(proj *api.Project, app string) (*plan.Step, error) {
	dir, err := chartdir.Resolve(proj.Root, filepath.Join(proj.Root, api.AppsDir, app))
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", api.AppsDir, app, err)
	}
	raw, err := chartdir.ReadFile(dir, "values.yaml", chartdir.DefaultLimits.File)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s/%s/values.yaml: %w", api.AppsDir, app, err)
	}
	values := map[string]any{}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		return nil, fmt.Errorf("%s/%s/values.yaml: %w", api.AppsDir, app, err)
	}
	if values == nil {
		values = map[string]any{}
	}
	version := proj.Versions.Apps[app]
	c := &api.Component{
		Name: app, Namespace: "default", ReleaseName: app, Version: version, Enabled: true,
		ValuesFiles: []string{"values.yaml"}, Values: map[string]any{}, ChartDir: dir,
		FileValues: []map[string]any{values},
	}
	return &plan.Step{Component: c, Chart: app, Version: version, ChartValues: values, Values: map[string]any{}}, nil
}

// RenderTenants builds a tenant bundle in memory.
func RenderTenants(ctx context.Context, proj *api.Project, tb *api.TenantBundle, o RenderOptions) (*TenantOutput, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, t := range tb.Tenants {
		for _, in := range t.Instances {
			used[in.App] = true
		}
	}
	apps := make([]string, 0, len(used))
	for a := range used {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	sd, err := scratch.New("", "distgen-build-")
	if err != nil {
		return nil, err
	}
	defer sd.Remove()
	opts := chart.Options{Root: proj.Root, Bundle: tb.Name, ReleaseDate: tb.ReleaseDate, KubeVersion: o.KubeVersion, ScratchDir: sd.Path, Cache: o.Cache, Bounds: o.Bounds}
	charts := make([]*chart.Chart, len(apps))
	digests := make([]string, len(apps))
	err = forEach(ctx, o.Jobs, len(apps), func(i int) error {
		s, err := appStep(proj, apps[i])
		if err == nil {
			charts[i], err = chart.Build(s, opts)
		}
		if err == nil {
			digests[i], err = chartDigest(charts[i], tb.ReleaseDate)
		}
		if err != nil {
			return fmt.Errorf("app %q: %w", apps[i], err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rel := &api.TenantRelease{Bundle: tb.Name, Version: tb.Version, ReleaseDate: tb.ReleaseDate.Format(time.RFC3339)}
	byApp := map[string]*chart.Chart{}
	byDigest := map[string]string{}
	for i, c := range charts {
		byDigest[apps[i]] = digests[i]
		byApp[apps[i]] = c
		rel.Apps = append(rel.Apps, api.ReleaseApp{Name: apps[i], Chart: api.ArtifactRef{
			Repository: "apps/" + apps[i], Tag: c.Version, Digest: digests[i],
			File: "apps/" + chart.FileName(c.Name, c.Version), SHA256: c.SHA256, Size: int64(len(c.Archive)),
		}, Images: c.Images})
	}
	out := &TenantOutput{Apps: charts, Files: map[string][]flux.File{}, Release: rel}
	for _, t := range tb.Tenants {
		rt := api.ReleaseTenant{Name: t.Name, Version: t.Version, Namespace: t.Namespace, Parent: t.Parent}
		for _, in := range t.Instances {
			c := byApp[in.App]
			_, found, err := c.Render(in.Name, t.Namespace, withSiteValues(c, in.Values))
			if err != nil {
				return nil, &ComponentError{Component: t.Name + "/" + in.Name, Pos: in.Pos, Err: err}
			}
			images := inventory.Refs(found)
			rt.Instances = append(rt.Instances, api.ReleaseInstance{Name: in.Name, App: in.App, Images: images})
			rt.Images = inventory.Merge(rt.Images, images)
		}
		parentNS := ""
		if p := tb.Tenant(t.Parent); p != nil {
			parentNS = p.Namespace
		}
		files, err := tenant.Render(tb, t, parentNS, byDigest)
		if err != nil {
			return nil, err
		}
		img, err := artifact.Bundle(artifactFiles(files), artifact.BundleMeta{
			Source: "distgen:tenants/" + t.Name, Version: t.Version, Created: tb.ReleaseDate, Images: rt.Images,
		})
		if err != nil {
			return nil, err
		}
		if rt.Artifact, err = fluxArtifactRef(img, TenantsDir+"/"+t.Name, t.Version, TenantsDir+"/"+t.Name+"/"); err != nil {
			return nil, err
		}
		out.Files[t.Name] = files
		rel.Tenants = append(rel.Tenants, rt)
		rel.Images = inventory.Merge(rel.Images, rt.Images)
	}
	return out, nil
}

// withSiteValues adds what the tenant's release fills in from the site
// (the registry, through the distgen-site ConfigMap) to an instance's
// values, as the placeholder bootstrap substitutes, for charts that take it.
func withSiteValues(c *chart.Chart, values map[string]any) map[string]any {
	if !c.HasValue("registry") {
		return values
	}
	out := map[string]any{"registry": "${" + api.RegistryVariable + "}"}
	for k, v := range values {
		out[k] = v
	}
	return out
}

// TenantVetResult summarises one tenant bundle that passed vet.
type TenantVetResult struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Tenants   int    `json:"tenants"`
	Instances int    `json:"instances"`
}

// VetTenants checks the project's tenant bundles (loading checks every
// instance's values against its app's schema) and summarises them.
func VetTenants(dir string) ([]TenantVetResult, error) {
	proj, err := loadProject(dir)
	if err != nil {
		return nil, err
	}
	out := []TenantVetResult{}
	for _, b := range proj.TenantBundles {
		r := TenantVetResult{Name: b.Name, Version: b.Version, Tenants: len(b.Tenants)}
		for _, t := range b.Tenants {
			r.Instances += len(t.Instances)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// TenantPush publishes a tenant build: the app charts first, then each
// tenant's artifact, so no tenant is ever pushed pointing at a chart that
// is not there. Every digest is rebuilt from the files and must equal the
// one release.json recorded.
type TenantPush struct {
	// Dir is a tenant build's output directory.
	Dir       string
	To        string
	PlainHTTP bool
	Options   []publish.Option
	Log       io.Writer
	// Force moves tags the target holds at other content.
	Force bool
}

// Run pushes the tenant release.
func (p *TenantPush) Run(ctx context.Context) (*PushResult, error) {
	var rel api.TenantRelease
	if err := readReleaseFile(p.Dir, "distgen tenant build", &rel); err != nil {
		return nil, err
	}
	created, err := time.Parse(time.RFC3339, rel.ReleaseDate)
	if err != nil {
		return nil, fmt.Errorf("%s: releaseDate: %w", ReleaseFile, err)
	}
	var apps, tenants []pushItem
	for _, a := range rel.Apps {
		archive, err := os.ReadFile(filepath.Join(p.Dir, filepath.FromSlash(a.Chart.File)))
		if err != nil {
			return nil, fmt.Errorf("app %q: %w", a.Name, err)
		}
		img, err := artifact.Chart(archive, created, a.Images)
		if err == nil {
			err = sameDigest(img, a.Chart.Digest)
		}
		if err != nil {
			return nil, fmt.Errorf("app %q: %w", a.Name, err)
		}
		apps = append(apps, pushItem{what: fmt.Sprintf("app %q", a.Name), ref: a.Chart, img: img})
	}
	for _, t := range rel.Tenants {
		files, err := readArtifactFiles(filepath.Join(p.Dir, filepath.FromSlash(t.Artifact.File)))
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		img, err := artifact.Bundle(files, artifact.BundleMeta{Source: "distgen:tenants/" + t.Name, Version: t.Version, Created: created, Images: t.Images})
		if err == nil {
			err = sameDigest(img, t.Artifact.Digest)
		}
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		tenants = append(tenants, pushItem{what: fmt.Sprintf("tenant %q", t.Name), ref: t.Artifact, img: img})
	}
	pub, err := publish.New(p.To, append([]publish.Option{publish.WithPlainHTTP(p.PlainHTTP)}, p.Options...)...)
	if err != nil {
		return nil, err
	}
	return pushStages(ctx, pub, p.To, 0, p.Force, false, func(r publish.Result) { logResult(p.Log, r) }, apps, tenants)
}
