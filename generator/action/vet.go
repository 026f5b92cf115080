package action

import (
	"context"
	"sort"

	"github.com/distgen/distgen/generator/plan"
)

// Vet checks a project without building it: the CUE against the schemas,
// and every bundle's components against each other.
type Vet struct {
	// Dir is the project root or a directory below it.
	Dir string
}

// VetBundle summarises one bundle that passed.
type VetBundle struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Components int    `json:"components"`
	Enabled    int    `json:"enabled"`
	Namespaces int    `json:"namespaces"`
	Levels     int    `json:"levels"`
}

// Run vets the project and summarises its bundles, sorted by name.
func (v *Vet) Run(ctx context.Context) ([]VetBundle, error) {
	proj, err := loadProject(v.Dir)
	if err != nil {
		return nil, err
	}
	var out []VetBundle
	for _, b := range proj.Bundles {
		p, err := plan.Build(b)
		if err != nil {
			return nil, err
		}
		out = append(out, VetBundle{
			Name: b.Name, Version: b.Version, Components: len(b.Components), Enabled: len(p.Steps),
			Namespaces: len(p.Namespaces), Levels: p.Depth(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
