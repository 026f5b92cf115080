package action

import (
	"slices"
)

// Names are what a project names, for shell completion: its bundles, its
// components (of Bundle when set, else of every bundle), its tenant
// bundles and the components' pinned upstream charts.
type Names struct {
	Bundles, Components, TenantBundles, Upstreams []string
}

// ProjectNames loads the project at dir and lists its names, each sorted.
func ProjectNames(dir, bundle string) (*Names, error) {
	proj, err := loadProject(dir)
	if err != nil {
		return nil, err
	}
	n := &Names{}
	add := func(list *[]string, s string) {
		if !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	for name, b := range proj.Bundles {
		add(&n.Bundles, name)
		if bundle != "" && name != bundle {
			continue
		}
		for _, c := range b.Components {
			add(&n.Components, c.Name)
			for _, u := range c.Chart.Upstream {
				add(&n.Upstreams, u.Name)
			}
		}
	}
	for name := range proj.TenantBundles {
		add(&n.TenantBundles, name)
	}
	for _, l := range [][]string{n.Bundles, n.Components, n.TenantBundles, n.Upstreams} {
		slices.Sort(l)
	}
	return n, nil
}
