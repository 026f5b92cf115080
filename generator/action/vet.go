package action

import (
	"context"
	"errors"
	"sort"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/upstream"
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
	if err := checkVendored(proj); err != nil {
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

// checkVendored checks every upstream archive the project keeps in
// packages/vendor against the digest its bundle pins or the lock records,
// as a build would; a chart that is only in the cache, or not yet fetched,
// is left to the build.
func checkVendored(proj *api.Project) error {
	lock, err := upstream.ReadLock(proj.Root)
	if err != nil {
		return err
	}
	var errs []error
	seen := map[string]bool{}
	names := make([]string, 0, len(proj.Bundles))
	for n := range proj.Bundles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, c := range proj.Bundles[n].Components {
			for _, u := range c.Chart.Upstream {
				_, err := upstream.Resolve(proj.Root, lock, upstream.Cache{}, u)
				if err == nil || errors.Is(err, upstream.ErrNotVendored) || seen[u.ArchiveName()] {
					continue
				}
				seen[u.ArchiveName()] = true
				errs = append(errs, &ComponentError{Component: c.Name, Pos: c.Pos, Err: err})
			}
		}
	}
	return errors.Join(errs...)
}
