package action

import (
	"context"
	"io"

	"github.com/distgen/distgen/generator/render/chart"
)

// Template renders the manifests of one component with its final values,
// as the cluster would receive them.
type Template struct {
	Project
	Component   string
	KubeVersion string
	Log         io.Writer
	// Bounds limit the chart's lint and render.
	Bounds chart.Bounds
}

// Run returns the rendered objects as one YAML stream.
func (t *Template) Run(ctx context.Context) (string, error) {
	proj, pl, err := t.plan()
	if err != nil {
		return "", err
	}
	res, err := Render(ctx, proj, pl, RenderOptions{KubeVersion: t.KubeVersion, Log: t.Log, Only: []string{t.Component}, Bounds: t.Bounds})
	if err != nil {
		return "", err
	}
	return res.Charts[0].SortedManifests(), nil
}
