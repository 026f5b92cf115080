package action

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/publish"
)

// Mirror copies a whole release (bundle, charts, images) by digest from
// a registry, layout or archive to another, for air-gapped sites. A tenant
// is a release too: its artifact, the app charts it pins and its images.
type Mirror struct {
	// From is oci://HOST/PREFIX/bundles/NAME:VERSION,
	// oci://HOST/PREFIX/tenants/NAME:VERSION, oci-layout:DIR or FILE.tar.
	From string
	// Bundle is NAME:VERSION (or tenants/NAME:VERSION for a tenant), needed
	// when a layout or archive holds several.
	Bundle string
	// To is oci://HOST/PREFIX, oci-layout:DIR or FILE.tar.
	To        string
	PlainHTTP bool
	Jobs      int
	// Log receives a line per artifact; nil discards them.
	Log io.Writer
	// Options are extra options for a registry destination.
	Options []publish.Option
	// Layout are options for a layout or archive destination.
	Layout []publish.LayoutOption
	// SkipImages copies the charts and the bundle only.
	SkipImages bool
	// ImagesFrom (oci://HOST/PREFIX, oci-layout:DIR or FILE.tar) is where
	// images are read from: a location a mirror filled, images under
	// images/<registry>/<repository>.
	ImagesFrom string
	// DryRun writes nothing and says what would be copied, with sizes.
	DryRun bool
}

// MirrorResult is what a mirror copied.
type MirrorResult struct {
	Release *mirror.Release `json:"release"`
	*mirror.Result
}

// Run mirrors the release.
func (m *Mirror) Run(ctx context.Context) (*MirrorResult, error) {
	src, rel, err := openRelease(ctx, m.From, m.Bundle, m.PlainHTTP)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return m.copy(ctx, src, rel)
}

// copy copies the release rel, opened at src, to m.To.
func (m *Mirror) copy(ctx context.Context, src publish.Store, rel *mirror.Release) (*MirrorResult, error) {
	if m.SkipImages && m.ImagesFrom != "" {
		return nil, &UsageError{Msg: "--skip-images and --images-from exclude each other"}
	}
	var images publish.Store
	if m.ImagesFrom != "" {
		var err error
		if images, err = mirror.Open(m.ImagesFrom, m.PlainHTTP); err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("--images-from: %v", err)}
		}
		defer images.Close()
	}
	res, err := mirror.Copy(ctx, src, rel, m.To, mirror.Options{
		Jobs: m.Jobs, PlainHTTP: m.PlainHTTP, Publish: m.Options, Layout: m.Layout,
		SkipImages: m.SkipImages, ImagesFrom: images, DryRun: m.DryRun,
		Progress: func(r publish.Result) {
			if m.Log == nil {
				return
			}
			switch {
			case m.DryRun && r.Skipped:
				fmt.Fprintf(m.Log, "present     %s@%s\n", r.Ref, r.Digest)
			case m.DryRun:
				fmt.Fprintf(m.Log, "would copy  %s@%s (%d bytes)\n", r.Ref, r.Digest, r.Bytes)
			case r.Skipped:
				fmt.Fprintf(m.Log, "present %s@%s\n", r.Ref, r.Digest)
			default:
				fmt.Fprintf(m.Log, "copied  %s@%s (%d bytes)\n", r.Ref, r.Digest, r.Bytes)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return &MirrorResult{Release: rel, Result: res}, nil
}

// openRelease opens where a release is (oci://HOST/PREFIX/bundles/NAME:VERSION,
// oci://HOST/PREFIX/tenants/NAME:VERSION, oci-layout:DIR or FILE.tar, with
// bundle naming NAME:VERSION where a layout holds several) and lists what
// it references. The caller closes the location.
func openRelease(ctx context.Context, from, bundle string, plainHTTP bool) (publish.Store, *mirror.Release, error) {
	if strings.HasPrefix(from, publish.SchemeRegistry) {
		ref := strings.TrimPrefix(from, publish.SchemeRegistry)
		prefix, name, ok := strings.Cut(ref, "/bundles/")
		if !ok {
			if prefix, name, ok = strings.Cut(ref, "/"+TenantsDir+"/"); ok {
				name = TenantsDir + "/" + name
			}
		}
		if !ok {
			return nil, nil, &UsageError{Msg: fmt.Sprintf("--from %q: want oci://HOST/PREFIX/bundles/NAME:VERSION or oci://HOST/PREFIX/tenants/NAME:VERSION", from)}
		}
		from, bundle = publish.SchemeRegistry+prefix, name
	}
	src, err := mirror.Open(from, plainHTTP)
	if err != nil {
		return nil, nil, &UsageError{Msg: err.Error()}
	}
	if bundle == "" {
		if bundle, err = onlyBundle(src); err != nil {
			src.Close()
			return nil, nil, err
		}
	}
	name, version, ok := strings.Cut(bundle, ":")
	if !ok || name == "" || version == "" {
		src.Close()
		return nil, nil, &UsageError{Msg: fmt.Sprintf("bundle %q: want NAME:VERSION", bundle)}
	}
	repo := "bundles/" + name
	if strings.HasPrefix(name, TenantsDir+"/") {
		repo = name
	}
	rel, err := mirror.InspectArtifact(ctx, src, repo, version)
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return src, rel, nil
}

// onlyBundle names the one bundle (or tenant) a layout or archive holds.
func onlyBundle(src publish.Store) (string, error) {
	local, ok := src.(publish.Local)
	if !ok {
		return "", &UsageError{Msg: "name the bundle: --from oci://HOST/PREFIX/bundles/NAME:VERSION"}
	}
	m, err := local.Blobs().Index()
	if err != nil {
		return "", err
	}
	var found []string
	for _, d := range m.Manifests {
		ref := d.Annotations[publish.AnnotationRefName]
		if _, tag, _ := strings.Cut(ref, ":"); strings.HasPrefix(tag, "sha256-") && strings.HasSuffix(tag, ".sig") {
			continue // signatures, not a bundle
		}
		if name, ok := strings.CutPrefix(ref, "bundles/"); ok {
			found = append(found, name)
		} else if strings.HasPrefix(ref, TenantsDir+"/") {
			found = append(found, ref)
		}
	}
	if len(found) != 1 {
		return "", &UsageError{Msg: fmt.Sprintf("the layout holds %d bundles %v: choose one with --bundle NAME:VERSION", len(found), found)}
	}
	return found[0], nil
}
