package action

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fluxcd/pkg/apis/kustomize"

	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/inventory"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/render/flux"
	"github.com/distgen/distgen/generator/sign"
)

// Bootstrap writes the objects that make a cluster running Flux pull and
// reconcile a pushed bundle.
type Bootstrap struct {
	// From is oci://HOST/PREFIX/bundles/NAME:VERSION.
	From string
	// Track, when set, follows a SemVer range of bundle versions instead of
	// pinning the digest From resolves to.
	Track string
	// Registry is HOST/PREFIX the charts are pulled from; empty means the
	// prefix of From.
	Registry string
	// Release, when set, is a build's output directory whose release.json
	// gives the digest to pin, so nothing has to be resolved over the network.
	Release string
	// PlainHTTP talks HTTP to a loopback registry.
	PlainHTTP bool
	// RelocateImages makes every release pull its images from the mirror
	// under Registry (where distgen mirror put them), reading the image
	// inventory from the release in that registry.
	RelocateImages bool
	// Interval between reconciliations; 0 means 10 minutes.
	Interval time.Duration
	// Out, when set, is a file to write instead of returning the objects.
	Out string
	// Options are extra publisher options (credentials, transport).
	Options []publish.Option
	// VerifyKey, when set, is a cosign public key (PEM): the cluster
	// verifies the bundle's and every chart's signature with it.
	VerifyKey []byte
	// Site, when set, is a site file checked against the bundle's #site
	// schema in the project at Dir; its values go to every release that
	// reads them, through a Secret in each of their namespaces.
	Site string
	Dir  string
	// inventoryFrom, when set, is the location (a layout) the image
	// inventory is read from instead of Registry: dev up's, whose
	// registry is reachable from the cluster's node only.
	inventoryFrom string
}

// Run resolves the bundle and returns the bootstrap manifest.
func (b *Bootstrap) Run(ctx context.Context) ([]byte, error) {
	ref, ok := strings.CutPrefix(b.From, publish.SchemeRegistry)
	if !ok {
		return nil, &UsageError{Msg: fmt.Sprintf("--from %q: want oci://HOST/PREFIX/bundles/NAME:VERSION", b.From)}
	}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--from %q: %v", b.From, err)}
	}
	repo := strings.TrimSuffix(ref, ":"+tag.TagStr())
	prefix, bundle, ok := strings.Cut(repo, "/bundles/")
	if !ok || bundle == "" || strings.Contains(bundle, "/") {
		return nil, &UsageError{Msg: fmt.Sprintf("--from %q: want oci://HOST/PREFIX/bundles/NAME:VERSION", b.From)}
	}
	spec := flux.Bootstrap{
		Bundle: bundle, URL: publish.SchemeRegistry + repo,
		SemVer: b.Track, Registry: b.Registry, Insecure: b.PlainHTTP, Interval: b.Interval,
	}
	if spec.Registry == "" {
		spec.Registry = prefix
	}
	if spec.Interval == 0 {
		spec.Interval = 10 * time.Minute
	}
	switch {
	case b.Track != "" && b.Release != "":
		return nil, &UsageError{Msg: "--track follows a range of versions; --release pins one: choose one"}
	case b.Release != "":
		rel, err := readRelease(b.Release)
		if err != nil {
			return nil, err
		}
		if rel.Bundle != bundle || rel.Version != tag.TagStr() {
			return nil, &UsageError{Msg: fmt.Sprintf("--release %s holds %s:%s, not %s:%s", b.Release, rel.Bundle, rel.Version, bundle, tag.TagStr())}
		}
		spec.Digest = rel.Artifact.Digest
		for _, c := range rel.Components {
			spec.VerifyNamespaces = append(spec.VerifyNamespaces, c.Namespace)
		}
	case b.Track == "":
		reg, err := publish.NewRegistry(prefix, append([]publish.Option{publish.WithPlainHTTP(b.PlainHTTP)}, b.Options...)...)
		if err != nil {
			return nil, &UsageError{Msg: err.Error()}
		}
		d, err := reg.Resolve(ctx, "bundles/"+bundle, tag.TagStr())
		if err != nil {
			return nil, err
		}
		spec.Digest = d.String()
	}
	if b.Site != "" {
		if spec.Site, spec.SiteNamespaces, err = siteValues(b.Dir, bundle, b.Site); err != nil {
			return nil, err
		}
	}
	if len(b.VerifyKey) > 0 {
		if _, err := sign.PublicKey(b.VerifyKey); err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("--verify-key: %v", err)}
		}
		spec.VerifyKey = b.VerifyKey
		if b.Release == "" {
			// The chart sources' namespaces, from the bundle itself.
			loc, err := mirror.Open(publish.SchemeRegistry+prefix, b.PlainHTTP)
			if err != nil {
				return nil, &UsageError{Msg: err.Error()}
			}
			rel, err := mirror.Inspect(ctx, loc, bundle, tag.TagStr())
			if err != nil {
				return nil, err
			}
			for _, c := range rel.Charts {
				ns, _, _ := strings.Cut(c.Release, "/")
				spec.VerifyNamespaces = append(spec.VerifyNamespaces, ns)
			}
		}
	}
	if b.RelocateImages {
		from := publish.SchemeRegistry + spec.Registry
		if b.inventoryFrom != "" {
			from = b.inventoryFrom
		}
		if spec.Relocate, err = relocations(ctx, from, spec.Registry, bundle, tag.TagStr(), b.PlainHTTP); err != nil {
			return nil, err
		}
	}
	out, err := flux.BootstrapObjects(spec)
	if err != nil {
		return nil, err
	}
	if b.Out != "" {
		if err := atomicfile.Write(b.Out, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// siteValues checks a site file against the bundle's #site schema and
// returns its values (YAML) and the namespaces of the releases that read
// them.
func siteValues(dir, bundle, file string) ([]byte, []string, error) {
	root, err := load.FindRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	proj, values, err := load.Site(root, bundle, file)
	if err != nil {
		return nil, nil, err
	}
	b, err := load.Bundle(proj, bundle)
	if err != nil {
		return nil, nil, err
	}
	pl, err := plan.Build(b)
	if err != nil {
		return nil, nil, err
	}
	var namespaces []string
	for _, s := range pl.Steps {
		if s.Site {
			namespaces = append(namespaces, s.Component.Namespace)
		}
	}
	out, err := yaml.Marshal(values)
	return out, namespaces, err
}

// relocations reads the release at the location from (the registry, as
// a location) and points each release's images at their copies under
// registry/images/.
func relocations(ctx context.Context, from, registry, bundle, version string, plainHTTP bool) ([]flux.Relocation, error) {
	loc, err := mirror.Open(from, plainHTTP)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	rel, err := mirror.Inspect(ctx, loc, bundle, version)
	if err != nil {
		return nil, fmt.Errorf("reading the image inventory at %s: %w", registry, err)
	}
	var out []flux.Relocation
	for _, c := range rel.Charts {
		if len(c.Images) == 0 {
			continue
		}
		ns, name, _ := strings.Cut(c.Release, "/")
		images, err := relocatedImages(registry, c.Images)
		if err != nil {
			return nil, err
		}
		out = append(out, flux.Relocation{Namespace: ns, Name: name, Images: images})
	}
	return out, nil
}

// relocatedImages points each image repository of refs at its copy under
// registry/images/, once per repository and per way it may be written in
// a manifest (busybox, library/busybox, docker.io/library/busybox): the
// post-renderer matches names as written, the inventory lists them
// normalized.
func relocatedImages(registry string, refs []string) ([]kustomize.Image, error) {
	var out []kustomize.Image
	seen := map[string]bool{}
	for _, ref := range refs {
		names := []string{mirror.RepositoryOf(ref)}
		if n, ok := inventory.Normalize(ref); ok {
			names = inventory.Spellings(mirror.RepositoryOf(n))
		}
		to := ""
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			if to == "" {
				var err error
				if to, err = mirror.Relocated(registry, ref); err != nil {
					return nil, err
				}
			}
			out = append(out, kustomize.Image{Name: name, NewName: to})
		}
	}
	return out, nil
}
