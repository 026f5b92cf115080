package action

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/generator/inventory"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/upstream"
)

// Images lists the container images a bundle's release pulls: what every
// component renders with its final values, what its charts declare, and the
// platform-wide images the bundle pins.
type Images struct {
	Project
	KubeVersion string
	Log         io.Writer
	// Resolve pins every tag to the digest its registry reports now; an
	// image whose registry cannot be reached keeps its tag (and is logged).
	Resolve bool
	// Lock records what Resolve resolved in versions.lock.json, so builds
	// pin those digests in release.json and in each chart's inventory.
	Lock bool
	// PlainHTTP reaches loopback registries over HTTP when resolving.
	PlainHTTP bool
}

// ImagesResult is a bundle's image inventory.
type ImagesResult struct {
	// Images is every image, sorted and unique.
	Images []string `json:"images"`
	// Components lists the images of each component that pulls any.
	Components []ComponentImages `json:"components"`
}

// ComponentImages are the images of one component.
type ComponentImages struct {
	Name   string   `json:"name"`
	Images []string `json:"images"`
	// Found says where each image was found.
	Found []inventory.Found `json:"found"`
}

// Run renders the bundle and returns its inventory.
func (a *Images) Run(ctx context.Context) (*ImagesResult, error) {
	if a.Lock && !a.Resolve {
		return nil, &UsageError{Msg: "--lock records resolved digests: use it with --resolve"}
	}
	proj, pl, err := a.plan()
	if err != nil {
		return nil, err
	}
	res, err := Render(ctx, proj, pl, RenderOptions{KubeVersion: a.KubeVersion, Log: a.Log})
	if err != nil {
		return nil, err
	}
	out := &ImagesResult{Images: res.Release.Images, Components: []ComponentImages{}}
	if out.Images == nil {
		out.Images = []string{}
	}
	for i, c := range res.Release.Components {
		if len(c.Images) > 0 {
			out.Components = append(out.Components, ComponentImages{Name: c.Name, Images: c.Images, Found: res.Charts[i].Found})
		}
	}
	if a.Resolve {
		pinned := map[string]string{}
		for _, ref := range out.Images {
			pinned[ref] = a.resolve(ctx, ref)
		}
		if a.Lock {
			if err := lockImages(proj.Root, pinned); err != nil {
				return nil, err
			}
		}
		for i, ref := range out.Images {
			out.Images[i] = pinned[ref]
		}
		for _, c := range out.Components {
			for i, ref := range c.Images {
				c.Images[i] = pinned[ref]
			}
			for i := range c.Found {
				c.Found[i].Image = pinned[c.Found[i].Image]
			}
		}
	}
	return out, nil
}

// lockImages records every tag that resolved to a digest in the lock.
func lockImages(root string, pinned map[string]string) error {
	lock, err := upstream.ReadLock(root)
	if err != nil {
		return err
	}
	for ref, p := range pinned {
		if tag, digest, ok := strings.Cut(p, "@"); ok && tag == ref {
			lock.SetImage(ref, digest)
		}
	}
	if !lock.Changed() {
		return nil
	}
	return lock.Write(root)
}

// resolve returns ref pinned to its digest (repo:tag@sha256:…), or ref
// as it is when it is pinned already or cannot be resolved.
func (a *Images) resolve(ctx context.Context, ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	if _, ok := r.(name.Digest); ok {
		return ref
	}
	if a.PlainHTTP && publish.IsLoopback(r.Context().RegistryStr()) {
		r, _ = name.ParseReference(ref, name.Insecure)
	}
	desc, err := remote.Head(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(publish.Transport(a.PlainHTTP)))
	if err != nil {
		if a.Log != nil {
			fmt.Fprintf(a.Log, "warning: %s: not resolved: %v\n", ref, err)
		}
		return ref
	}
	return ref + "@" + desc.Digest.String()
}
