package tests

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/tests/fixture"
)

func buildTenants(t *testing.T, dir, bundle string) (string, *api.TenantRelease) {
	t.Helper()
	out := filepath.Join(t.TempDir(), bundle)
	res, err := (&action.TenantBuild{TenantProject: action.TenantProject{Dir: dir, Bundle: bundle}, Out: out}).Run(context.Background())
	if err != nil {
		t.Fatalf("tenant build %s: %v", bundle, err)
	}
	return out, res.Release
}

// Two tenants, one nested in the other, with five app instances: their
// objects and release.json are pinned by golden files, and a second build
// gives the same bytes.
func TestTenantGolden(t *testing.T) {
	out, rel := buildTenants(t, repoRoot, "customers")
	compareGolden(t, out, filepath.Join("testdata", "golden", "tenants"), "TestTenantGolden", "release.json", "tenants/*/*.yaml", "tenants/*/instances/*.yaml")
	again, _ := buildTenants(t, repoRoot, "customers")
	if a, b := hashes(t, out), hashes(t, again); !equalMaps(a, b) {
		t.Errorf("two tenant builds differ:\n%v\n%v", a, b)
	}
	// Every tenant release is impersonated and reads only its own
	// namespace's sources.
	for _, tn := range rel.Tenants {
		for _, in := range tn.Instances {
			b, err := os.ReadFile(filepath.Join(out, "tenants", tn.Name, "instances", in.Name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var hr helmv2.HelmRelease
			if err := yaml.UnmarshalStrict([]byte(strings.TrimPrefix(string(b), "---\n")), &hr); err != nil {
				t.Fatalf("%s/%s: %v", tn.Name, in.Name, err)
			}
			if hr.Namespace != tn.Namespace || hr.Spec.ServiceAccountName != api.TenantServiceAccount || hr.Spec.ChartRef.Namespace != "" || hr.Spec.TargetNamespace != "" {
				t.Errorf("%s/%s: namespace %q, service account %q, chart source namespace %q, target %q", tn.Name, in.Name, hr.Namespace, hr.Spec.ServiceAccountName, hr.Spec.ChartRef.Namespace, hr.Spec.TargetNamespace)
			}
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Changing one tenant changes its artifact only.
func TestTenantChangeIsLocal(t *testing.T) {
	root := fixture.Copy(t, repoRoot, fixture.ProjectSources...)
	_, before := buildTenants(t, root, "customers")
	cue := filepath.Join(root, "bundles", "tenants.cue")
	fixture.Edit(t, cue, `values: instances: 1`, `values: instances: 2`)
	fixture.Edit(t, cue, `parent: "acme"`, `parent: "acme"
			version: "0.1.1"`)
	_, after := buildTenants(t, root, "customers")
	digests := func(rel *api.TenantRelease) map[string]string {
		m := map[string]string{}
		for _, tn := range rel.Tenants {
			m[tn.Name] = tn.Artifact.Tag + "@" + tn.Artifact.Digest
		}
		return m
	}
	b, a := digests(before), digests(after)
	if b["acme"] != a["acme"] {
		t.Errorf("tenant acme changed with acme-dev: %s -> %s", b["acme"], a["acme"])
	}
	if b["acme-dev"] == a["acme-dev"] || !strings.HasPrefix(a["acme-dev"], "0.1.1@") {
		t.Errorf("tenant acme-dev: %s -> %s", b["acme-dev"], a["acme-dev"])
	}
}

// Bad tenant bundles are refused when the project loads, each problem at
// its file:line:col: values against the app's schema, apps that do not
// exist or are not allowed, parents that are missing or circular.
func TestTenantBroken(t *testing.T) {
	for _, c := range []struct {
		name, old, new string
		want           []string
	}{
		{"value out of bounds", `values: instances: 1`, `values: instances: 12`, []string{"bundles/tenants.cue:41:", `instance "db" (app postgres)`, "invalid value 12"}},
		{"unknown value", `values: instances: 1`, `values: {instances: 1, replicas: 2}`, []string{"bundles/tenants.cue:41:", `instance "db" (app postgres)`, "replicas", "not allowed"}},
		{"wrong type", `cpu:    2`, `cpu:    "two"`, []string{"bundles/tenants.cue:", `instance "builder" (app virtual-machine)`, "mismatched types"}},
		{"bad url", `url: "https://cloud`, `url: "ftp://cloud`, []string{"bundles/tenants.cue:48:", "out of bound"}},
		{"app not allowed", `apps: ["postgres", "virtual-machine"]`, `apps: ["postgres"]`, []string{"bundles/tenants.cue:", `app "virtual-machine" is not among the apps tenant "acme-dev" may run`}},
		{"unknown app", `cache: app: "redis"`, `cache: app: "memcached"`, []string{"bundles/tenants.cue:", `app "memcached": no chart packages/apps/memcached`}},
		{"missing parent", `parent: "acme"`, `parent: "globex"`, []string{"bundles/tenants.cue:", `parent "globex" is not a tenant`}},
		{"circular parents", `quota: {cpu: "16", memory: "64Gi", storage: "500Gi"}`, `parent: "acme-dev"
			quota: {cpu: "16", memory: "64Gi", storage: "500Gi"}`, []string{"parents nest in a circle: acme -> acme-dev -> acme"}},
		{"bad quota", `quota: {cpu: "4", memory: "8Gi"}`, `quota: {cpu: "4 cores", memory: "8Gi"}`, []string{"bundles/tenants.cue:", "quota.cpu", "must be a Kubernetes quantity such as 500m, 4, 16Gi"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fixture.Copy(t, repoRoot, fixture.ProjectSources...)
			fixture.Edit(t, filepath.Join(root, "bundles", "tenants.cue"), c.old, c.new)
			_, err := action.VetTenants(root)
			if err == nil {
				t.Fatal("vet passed")
			}
			var le load.Errors
			if !errors.As(err, &le) || !load.IsUserError(err) {
				t.Errorf("not a user error: %T %v", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// A pushed tenant release holds every app chart and every tenant at the
// digests release.json recorded; pushing again uploads nothing.
func TestTenantPush(t *testing.T) {
	out, rel := buildTenants(t, repoRoot, "customers")
	reg := registryServer(t, nil)
	push := &action.TenantPush{Dir: out, To: "oci://" + hostOf(reg) + "/distgen", PlainHTTP: true}
	first, err := push.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, a := range rel.Apps {
		want[a.Chart.Repository+":"+a.Chart.Tag] = a.Chart.Digest
	}
	for _, tn := range rel.Tenants {
		want[tn.Artifact.Repository+":"+tn.Artifact.Tag] = tn.Artifact.Digest
	}
	checkRelease(t, hostOf(reg), "distgen", want)
	if len(first.Artifacts) != len(want) || first.Bytes == 0 {
		t.Errorf("first push: %d artifacts, %d bytes", len(first.Artifacts), first.Bytes)
	}
	if last := first.Artifacts[len(first.Artifacts)-1].Ref; !strings.Contains(last, "/tenants/") {
		t.Errorf("last artifact pushed %s: tenants go after the app charts", last)
	}
	again, err := push.Run(context.Background())
	if err != nil || again.Bytes != 0 {
		t.Errorf("second push: %d bytes, %v", again.Bytes, err)
	}
	checkTenantBootstrap(t, out, hostOf(reg), rel)

	// A tenant whose files changed since the build is refused.
	fixture.Edit(t, filepath.Join(out, "tenants", "acme", "tenant.yaml"), `cpu: "16"`, `cpu: "160"`)
	if _, err := push.Run(context.Background()); err == nil || !errors.Is(err, action.ErrStaleBuild) {
		t.Errorf("push of a changed tenant: %v", err)
	}
}

// bootstrapPair is the source and Kustomization a bootstrap makes for one
// tenant.
type bootstrapPair struct {
	src sourcev1.OCIRepository
	ks  kustomizev1.Kustomization
}

// tenantBootstrap decodes a tenant bootstrap manifest strictly, by tenant.
func tenantBootstrap(t *testing.T, manifest []byte) map[string]bootstrapPair {
	t.Helper()
	out := map[string]bootstrapPair{}
	docs := strings.Split(strings.TrimPrefix(string(manifest), "---\n"), "---\n")
	if len(docs)%2 != 0 {
		t.Fatalf("tenant bootstrap: %d documents:\n%s", len(docs), manifest)
	}
	for i := 0; i < len(docs); i += 2 {
		var pair bootstrapPair
		if err := yaml.UnmarshalStrict([]byte(docs[i]), &pair.src); err != nil {
			t.Fatalf("tenant bootstrap: %v\n%s", err, docs[i])
		}
		if err := yaml.UnmarshalStrict([]byte(docs[i+1]), &pair.ks); err != nil {
			t.Fatalf("tenant bootstrap: %v\n%s", err, docs[i+1])
		}
		out[pair.src.Labels[api.LabelTenant]] = pair
	}
	return out
}

// Bootstrap pins every tenant to the digest its build recorded, whether it
// reads release.json or asks the registry, each in flux-system, and
// substitutes the registry the app charts come from.
func checkTenantBootstrap(t *testing.T, out, host string, rel *api.TenantRelease) {
	ctx := context.Background()
	offline, err := (&action.TenantBootstrap{From: []string{"oci://" + host + "/distgen"}, Release: out, PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, tn := range rel.Tenants {
		refs = append(refs, "oci://"+host+"/distgen/tenants/"+tn.Name+":"+tn.Version)
	}
	resolved, err := (&action.TenantBootstrap{From: refs, PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := tenantBootstrap(t, offline)
	if len(got) != len(rel.Tenants) {
		t.Fatalf("tenant bootstrap has %d tenants, want %d", len(got), len(rel.Tenants))
	}
	online := tenantBootstrap(t, resolved)
	for _, tn := range rel.Tenants {
		g, ok := got[tn.Name]
		if !ok {
			t.Errorf("tenant bootstrap lacks %s", tn.Name)
			continue
		}
		name := "distgen-tenant-" + tn.Name
		if g.src.Name != name || g.src.Namespace != "flux-system" || g.src.Spec.URL != "oci://"+host+"/distgen/tenants/"+tn.Name ||
			g.src.Spec.Reference.Digest != tn.Artifact.Digest || !g.src.Spec.Insecure {
			t.Errorf("tenant %s source: %s/%s %+v", tn.Name, g.src.Namespace, g.src.Name, g.src.Spec)
		}
		if g.ks.Name != name || g.ks.Spec.SourceRef.Name != name || !g.ks.Spec.Prune ||
			g.ks.Spec.PostBuild.Substitute[api.RegistryVariable] != host+"/distgen" {
			t.Errorf("tenant %s kustomization: %+v", tn.Name, g.ks.Spec)
		}
		if o := online[tn.Name]; o.src.Spec.Reference.Digest != tn.Artifact.Digest || o.src.Spec.URL != g.src.Spec.URL {
			t.Errorf("tenant %s resolved from the registry: %+v", tn.Name, o.src.Spec)
		}
	}
	one, err := (&action.TenantBootstrap{From: []string{"oci://" + host + "/distgen"}, Release: out, Tenants: []string{"acme-dev"}, Registry: "mirror.example.com/p"}).Run(ctx)
	if g := tenantBootstrap(t, one); err != nil || len(g) != 1 || g["acme-dev"].ks.Spec.PostBuild.Substitute[api.RegistryVariable] != "mirror.example.com/p" {
		t.Errorf("bootstrap of acme-dev alone (%v):\n%s", err, one)
	}
	for _, bad := range []action.TenantBootstrap{
		{},
		{From: []string{"oci://" + host + "/distgen"}, Release: out, Tenants: []string{"nobody"}},
		{From: []string{"oci://" + host + "/distgen/tenants/acme:0.1.0"}, Release: out},
		{From: []string{"oci://" + host + "/distgen"}},
		{From: []string{"https://" + host + "/distgen/tenants/acme:0.1.0"}},
		{From: []string{"oci://" + host + "/distgen/tenants/acme:0.1.0"}, Tenants: []string{"acme"}},
	} {
		var usage *action.UsageError
		if _, err := bad.Run(ctx); !errors.As(err, &usage) {
			t.Errorf("tenant bootstrap %+v: %v, want a usage error", bad, err)
		}
	}
	// A tenant the registry does not hold is an error, not a guess.
	if _, err := (&action.TenantBootstrap{From: []string{"oci://" + host + "/distgen/tenants/acme:9.9.9"}, PlainHTTP: true}).Run(ctx); err == nil || !strings.Contains(err.Error(), `tenant "acme"`) {
		t.Errorf("tenant bootstrap of a missing tag: %v", err)
	}
}

// A tenant mirrors like a platform release: its artifact, the app charts it
// pins and the images they pull go from the origin to a site's registry by
// digest, a rerun writes nothing, and the tenant bootstraps from the site.
func TestTenantMirror(t *testing.T) {
	ctx := context.Background()
	images := newRegistry(t, nil)
	upstream := map[string]string{
		"ghcr.io/cloudnative-pg/postgresql:17.5": images + "/cnpg/postgresql:17.5",
		"quay.io/containerdisks/fedora:41":       images + "/containerdisks/fedora:41",
	}
	for _, ref := range upstream {
		img, err := random.Image(32<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	dir := fixture.Copy(t, repoRoot, projectSources...)
	for app, from := range map[string]string{"postgres": "ghcr.io/cloudnative-pg/postgresql:17.5", "virtual-machine": "quay.io/containerdisks/fedora:41"} {
		fixture.Edit(t, filepath.Join(dir, "packages", "apps", app, "values.yaml"), from, upstream[from])
	}
	out, rel := buildTenants(t, dir, "customers")
	origin, site := newRegistry(t, nil), newRegistry(t, nil)
	if _, err := (&action.TenantPush{Dir: out, To: "oci://" + origin + "/p", PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	var dev api.ReleaseTenant
	for _, tn := range rel.Tenants {
		if tn.Name == "acme-dev" {
			dev = tn
		}
	}
	m := &action.Mirror{From: "oci://" + origin + "/p/tenants/acme-dev:" + dev.Version, To: "oci://" + site + "/s", PlainHTTP: true}
	res, err := m.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{dev.Artifact.Repository + ":" + dev.Artifact.Tag: dev.Artifact.Digest}
	for _, a := range rel.Apps {
		if a.Name == "postgres" || a.Name == "virtual-machine" {
			want[a.Chart.Repository+":"+a.Chart.Tag] = a.Chart.Digest
		}
	}
	checkRelease(t, site, "s", want)
	if len(res.Release.Charts) != 2 || len(res.Release.Images) != 2 {
		t.Errorf("mirrored %d charts and %d images, want the 2 apps acme-dev runs and their 2 images", len(res.Release.Charts), len(res.Release.Images))
	}
	for _, ref := range upstream {
		to, err := mirror.RelocatedRef(site+"/s", ref)
		if err != nil {
			t.Fatal(err)
		}
		r, err := name.ParseReference(to)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(r); err != nil {
			t.Errorf("image %s not at %s: %v", ref, to, err)
		}
	}
	if again, err := m.Run(ctx); err != nil || again.Bytes != 0 {
		t.Errorf("second mirror: %d bytes, %v", again.Bytes, err)
	}
	boot, err := (&action.TenantBootstrap{From: []string{"oci://" + site + "/s/tenants/acme-dev:" + dev.Version}, PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := tenantBootstrap(t, boot)["acme-dev"]; g.src.Spec.Reference.Digest != dev.Artifact.Digest || g.ks.Spec.PostBuild.Substitute[api.RegistryVariable] != site+"/s" {
		t.Errorf("bootstrap from the site: %+v %+v", g.src.Spec, g.ks.Spec.PostBuild)
	}

	// The same tenant pushed to a layout holds no images: a mirror from it
	// takes them --images-from the site's registry, or leaves them out;
	// a dry run says what it would copy and writes nothing.
	layout := t.TempDir()
	if _, err := (&action.TenantPush{Dir: out, To: "oci-layout:" + layout}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	from, bundle := "oci-layout:"+layout, "tenants/acme-dev:"+dev.Version
	if _, err := (&action.Mirror{From: from, Bundle: bundle, To: "oci-layout:" + t.TempDir()}).Run(ctx); err == nil || !strings.Contains(err.Error(), "--images-from") {
		t.Errorf("mirror of a layout without its images: %v", err)
	}
	dest := filepath.Join(t.TempDir(), "site")
	fromSite := action.Mirror{From: from, Bundle: bundle, To: "oci-layout:" + dest, ImagesFrom: "oci://" + site + "/s", PlainHTTP: true}
	dry := fromSite
	dry.DryRun = true
	planned, err := dry.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a dry run created %s (%v)", dest, err)
	}
	if !planned.DryRun || len(planned.Artifacts) != 5 || planned.Bytes == 0 {
		t.Errorf("dry run: %d artifacts, %d bytes, want the tenant, 2 charts and 2 images", len(planned.Artifacts), planned.Bytes)
	}
	copied, err := fromSite.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if copied.Bytes == 0 || copied.Bytes > planned.Bytes {
		t.Errorf("mirror wrote %d bytes, the dry run said at most %d", copied.Bytes, planned.Bytes)
	}
	inLayout, err := publish.Open("oci-layout:" + dest)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range copied.Release.Images {
		if _, err := inLayout.Image(ctx, img.Repository, img.Tag); err != nil {
			t.Errorf("image %s not in the layout: %v", img.Source, err)
		}
	}
	if again, err := dry.Run(ctx); err != nil || again.Bytes != 0 {
		t.Errorf("dry run after the mirror: %d bytes, %v", again.Bytes, err)
	}
	skipped, err := (&action.Mirror{From: from, Bundle: bundle, To: "oci-layout:" + t.TempDir(), SkipImages: true}).Run(ctx)
	if err != nil || len(skipped.Artifacts) != 3 {
		t.Errorf("--skip-images: %+v, %v", skipped, err)
	}

	// With the images relocated, every release in the tenant's namespace
	// gets a post-renderer that points each image at the mirror's copy.
	boot, err = (&action.TenantBootstrap{From: []string{"oci://" + site + "/s/tenants/acme-dev:" + dev.Version}, PlainHTTP: true, RelocateImages: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ks := tenantBootstrap(t, boot)["acme-dev"].ks
	var relocated *kustomize.Patch
	for i, p := range ks.Spec.Patches {
		if p.Target != nil && p.Target.Kind == helmv2.HelmReleaseKind {
			relocated = &ks.Spec.Patches[i]
		}
	}
	if relocated == nil || relocated.Target.Namespace != dev.Namespace || relocated.Target.Name != "" {
		t.Fatalf("no post-renderer patch for every release in %s: %+v", dev.Namespace, ks.Spec.Patches)
	}
	var ops []struct {
		Value []helmv2.PostRenderer `json:"value"`
	}
	if err := json.Unmarshal([]byte(relocated.Patch), &ops); err != nil || len(ops) != 1 || len(ops[0].Value) != 1 {
		t.Fatalf("patch %s: %v", relocated.Patch, err)
	}
	got := map[string]string{}
	for _, img := range ops[0].Value[0].Kustomize.Images {
		got[img.Name] = img.NewName
	}
	for _, ref := range upstream {
		to, _ := mirror.Relocated(site+"/s", ref)
		if got[mirror.RepositoryOf(ref)] != to {
			t.Errorf("image %s relocated to %q, want %q", ref, got[mirror.RepositoryOf(ref)], to)
		}
	}
}
