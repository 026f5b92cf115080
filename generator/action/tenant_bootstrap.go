package action

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/render/flux"
)

// TenantBootstrap writes, per tenant, the objects that make a cluster
// running Flux pull and reconcile that tenant's artifact: an OCIRepository
// pinned by digest and a Kustomization, both in flux-system, substituting
// the registry the tenant's app charts are pulled from.
type TenantBootstrap struct {
	// From is either one or more tenant references,
	// oci://HOST/PREFIX/tenants/NAME:VERSION, whose digests are resolved in
	// the registry; or a single oci://HOST/PREFIX together with Release,
	// which then names the tenants and pins their digests offline.
	From []string
	// Release is a tenant build's output directory (its release.json).
	Release string
	// Tenants selects tenants of Release; empty means all of them.
	Tenants []string
	// Registry is HOST/PREFIX the app charts are pulled from; empty means
	// the prefix of From.
	Registry string
	// PlainHTTP talks HTTP to a loopback registry.
	PlainHTTP bool
	// RelocateImages makes every release of a tenant pull its images from
	// the mirror under Registry (where distgen mirror put them), reading the
	// tenant's images from its artifact there.
	RelocateImages bool
	// Interval between reconciliations; 0 means 10 minutes.
	Interval time.Duration
	// Out, when set, is a file to write instead of returning the objects.
	Out     string
	Options []publish.Option
	// inventoryFrom, when set, is the location (a layout) the tenants'
	// images are read from instead of Registry: dev up's, whose registry
	// is reachable from the cluster's node only.
	inventoryFrom string
}

// tenantRef is one tenant to bootstrap.
type tenantRef struct {
	prefix, tenant, version, digest string
}

// Run resolves the tenants and returns the bootstrap manifest.
func (b *TenantBootstrap) Run(ctx context.Context) ([]byte, error) {
	if len(b.From) == 0 {
		return nil, &UsageError{Msg: "--from is required: oci://HOST/PREFIX/tenants/NAME:VERSION, or oci://HOST/PREFIX with --release"}
	}
	var refs []tenantRef
	var bundle string
	var err error
	if b.Release != "" {
		refs, bundle, err = b.fromRelease()
	} else {
		refs, err = b.resolve(ctx)
	}
	if err != nil {
		return nil, err
	}
	interval := b.Interval
	if interval == 0 {
		interval = 10 * time.Minute
	}
	var out bytes.Buffer
	for _, r := range refs {
		registry := b.Registry
		if registry == "" {
			registry = r.prefix
		}
		spec := flux.Bootstrap{
			Bundle: bundle, Tenant: r.tenant,
			URL:    publish.SchemeRegistry + r.prefix + "/" + TenantsDir + "/" + r.tenant,
			Digest: r.digest, Registry: registry, Insecure: b.PlainHTTP, Interval: interval,
		}
		if b.RelocateImages {
			from := publish.SchemeRegistry + registry
			if b.inventoryFrom != "" {
				from = b.inventoryFrom
			}
			if spec.Relocate, err = tenantRelocation(ctx, from, registry, r, b.PlainHTTP); err != nil {
				return nil, err
			}
		}
		docs, err := flux.BootstrapObjects(spec)
		if err != nil {
			return nil, err
		}
		out.Write(docs) // each starts with its own "---"
	}
	if b.Out != "" {
		if err := atomicfile.Write(b.Out, out.Bytes()); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// fromRelease takes the tenants, versions and digests from a tenant build.
func (b *TenantBootstrap) fromRelease() ([]tenantRef, string, error) {
	if len(b.From) != 1 {
		return nil, "", &UsageError{Msg: "with --release, give one --from: oci://HOST/PREFIX where the tenants were pushed"}
	}
	prefix, ok := strings.CutPrefix(b.From[0], publish.SchemeRegistry)
	prefix = strings.TrimSuffix(prefix, "/")
	// A valid repository below the prefix rules out a tag in it.
	if _, err := name.NewRepository(prefix+"/"+TenantsDir+"/x", name.StrictValidation); !ok || err != nil ||
		strings.Contains(prefix, "/"+TenantsDir+"/") {
		return nil, "", &UsageError{Msg: fmt.Sprintf("--from %q: with --release, want oci://HOST/PREFIX", b.From[0])}
	}
	var rel api.TenantRelease
	if err := readReleaseFile(b.Release, "distgen tenant build", &rel); err != nil {
		return nil, "", err
	}
	var refs []tenantRef
	for _, t := range rel.Tenants {
		if len(b.Tenants) > 0 && !slices.Contains(b.Tenants, t.Name) {
			continue
		}
		refs = append(refs, tenantRef{prefix: prefix, tenant: t.Name, version: t.Version, digest: t.Artifact.Digest})
	}
	for _, want := range b.Tenants {
		if !slices.ContainsFunc(rel.Tenants, func(t api.ReleaseTenant) bool { return t.Name == want }) {
			return nil, "", &UsageError{Msg: fmt.Sprintf("--tenant %q: tenant bundle %s %s has no such tenant", want, rel.Bundle, rel.Version)}
		}
	}
	return refs, rel.Bundle, nil
}

// resolve reads each tenant reference's digest from its registry.
func (b *TenantBootstrap) resolve(ctx context.Context) ([]tenantRef, error) {
	if len(b.Tenants) > 0 {
		return nil, &UsageError{Msg: "--tenant selects tenants of --release; without it, name each tenant in --from"}
	}
	var refs []tenantRef
	for _, from := range b.From {
		usage := &UsageError{Msg: fmt.Sprintf("--from %q: want oci://HOST/PREFIX/tenants/NAME:VERSION", from)}
		ref, ok := strings.CutPrefix(from, publish.SchemeRegistry)
		if !ok {
			return nil, usage
		}
		tag, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("--from %q: %v", from, err)}
		}
		repo := strings.TrimSuffix(ref, ":"+tag.TagStr())
		prefix, tenant, ok := strings.Cut(repo, "/"+TenantsDir+"/")
		if !ok || tenant == "" || strings.Contains(tenant, "/") {
			return nil, usage
		}
		reg, err := publish.NewRegistry(prefix, append([]publish.Option{publish.WithPlainHTTP(b.PlainHTTP)}, b.Options...)...)
		if err != nil {
			return nil, &UsageError{Msg: err.Error()}
		}
		d, err := reg.Resolve(ctx, TenantsDir+"/"+tenant, tag.TagStr())
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", tenant, err)
		}
		refs = append(refs, tenantRef{prefix: prefix, tenant: tenant, version: tag.TagStr(), digest: d.String()})
	}
	return refs, nil
}

// tenantRelocation reads a tenant's artifact in the mirror at from (the
// registry, as a location) and points every release in the tenant's
// namespace at the mirror's copies of the tenant's images under registry.
func tenantRelocation(ctx context.Context, from, registry string, r tenantRef, plainHTTP bool) ([]flux.Relocation, error) {
	loc, err := mirror.Open(from, plainHTTP)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	rel, err := mirror.InspectArtifact(ctx, loc, TenantsDir+"/"+r.tenant, r.version)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: reading its images at %s: %w", r.tenant, registry, err)
	}
	if len(rel.Charts) == 0 || len(rel.Images) == 0 {
		return nil, nil
	}
	// The tenant's app sources live in its namespace, beside its releases.
	ns, _, _ := strings.Cut(rel.Charts[0].Release, "/")
	refs := make([]string, len(rel.Images))
	for i, img := range rel.Images {
		refs[i] = img.Source
	}
	images, err := relocatedImages(registry, refs)
	if err != nil {
		return nil, err
	}
	return []flux.Relocation{{Namespace: ns, Images: images}}, nil
}
