package action

import (
	"context"
	"io"
)

// Images lists the container images a bundle's release pulls: what every
// component renders with its final values, what its charts declare, and the
// platform-wide images the bundle pins.
type Images struct {
	Project
	KubeVersion string
	Log         io.Writer
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
}

// Run renders the bundle and returns its inventory.
func (a *Images) Run(ctx context.Context) (*ImagesResult, error) {
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
	for _, c := range res.Release.Components {
		if len(c.Images) > 0 {
			out.Components = append(out.Components, ComponentImages{Name: c.Name, Images: c.Images})
		}
	}
	return out, nil
}
