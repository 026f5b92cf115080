package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/upstream"
)

// Vet checks a project without building it: the CUE against the schemas,
// and every bundle's components against each other.
type Vet struct {
	// Dir is the project root or a directory below it.
	Dir string
	// Render also renders every bundle, as a build would, and checks what
	// it renders (lint, Kubernetes' schema, the release's CRDs), writing
	// nothing; Bundle limits it to one bundle.
	Render      bool
	Bundle      string
	KubeVersion string
	Cache       *chart.Cache
	Log         io.Writer
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
	if v.Render && v.Bundle != "" && proj.Bundles[v.Bundle] == nil {
		return nil, &UsageError{Msg: fmt.Sprintf("no bundle %q", v.Bundle)}
	}
	var out []VetBundle
	var errs []error
	for _, b := range proj.Bundles {
		p, err := plan.Build(b)
		if err != nil {
			return nil, err
		}
		if v.Render && (v.Bundle == "" || v.Bundle == b.Name) {
			if _, err := Render(ctx, proj, p, RenderOptions{KubeVersion: v.KubeVersion, Cache: v.Cache, Log: v.Log}); err != nil {
				errs = append(errs, fmt.Errorf("bundle %s: %w", b.Name, err))
				continue
			}
		}
		out = append(out, VetBundle{
			Name: b.Name, Version: b.Version, Components: len(b.Components), Enabled: len(p.Steps),
			Namespaces: len(p.Namespaces), Levels: p.Depth(),
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
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
