package plan

import (
	"fmt"
	"sort"

	"github.com/distgen/distgen/generator/api"
)

// Plan is what a build of one bundle produces, decided up front.
type Plan struct {
	Bundle *api.Bundle
	// Steps are the enabled components, dependencies first: ordered by
	// dependency level, then by name.
	Steps []*Step
	// Namespaces the steps install into, sorted by name.
	Namespaces []Namespace
}

// Step is one component to build and release.
type Step struct {
	Component *api.Component
	// Level is 0 for a component without dependencies, else one more than
	// the highest level among its dependencies.
	Level int
	// Chart is the name of the chart distgen emits (the component's name,
	// so two components may share a chart directory).
	Chart   string
	Version string
	// ChartValues are the chart's values files merged in order; they become
	// the packaged chart's values.yaml.
	ChartValues map[string]any
	// Values are the bundle's values; they go into the HelmRelease.
	Values map[string]any
	// DependsOn are the steps this one waits for, sorted by name.
	DependsOn []Ref
	// Site is true when the release reads the site's values.
	Site bool
}

// Ref names a HelmRelease.
type Ref struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// Namespace is a namespace of the platform.
type Namespace struct {
	Name string
	// Privileged is true when the namespace's Pod Security level is
	// privileged: declared so, or, undeclared, when a component in it runs
	// privileged pods.
	Privileged bool
	// PodSecurity is the level declared, or privileged when Privileged;
	// empty leaves the cluster's default.
	PodSecurity api.PodSecurity
	// Labels and Annotations the bundle declares for it.
	Labels, Annotations map[string]string
	// Components installed into it, sorted.
	Components []string
}

// Final returns ChartValues with Values over them: what Helm renders. It
// is computed when asked, not kept: a release's values are large.
func (s *Step) Final() map[string]any { return Merge(s.ChartValues, s.Values) }

// Build plans a bundle. The bundle must have passed load's checks; Build
// still refuses a cycle or a dangling dependency rather than loop or guess.
func Build(b *api.Bundle) (*Plan, error) {
	byName := map[string]*api.Component{}
	for _, c := range b.Components {
		if c.Enabled {
			byName[c.Name] = c
		}
	}
	levels := map[string]int{}
	var level func(name string, path []string) (int, error)
	level = func(name string, path []string) (int, error) {
		if l, ok := levels[name]; ok {
			return l, nil
		}
		for _, p := range path {
			if p == name {
				return 0, fmt.Errorf("component %q: dependency cycle through %v", name, append(path, name))
			}
		}
		c := byName[name]
		l := 0
		for _, d := range c.DependsOn {
			if _, ok := byName[d]; !ok {
				return 0, fmt.Errorf("component %q: depends on %q, which is not enabled in bundle %q", name, d, b.Name)
			}
			dl, err := level(d, append(path, name))
			if err != nil {
				return 0, err
			}
			l = max(l, dl+1)
		}
		levels[name] = l
		return l, nil
	}

	p := &Plan{Bundle: b}
	namespaces := map[string]*Namespace{}
	for _, c := range b.Components {
		if !c.Enabled {
			continue
		}
		l, err := level(c.Name, nil)
		if err != nil {
			return nil, err
		}
		s := &Step{Component: c, Level: l, Chart: c.Name, Version: c.Version, Site: b.HasSite && c.Site}
		s.ChartValues = map[string]any{}
		for _, fv := range c.FileValues {
			s.ChartValues = Merge(s.ChartValues, fv)
		}
		s.Values = Clone(c.Values)
		for _, d := range c.DependsOn {
			s.DependsOn = append(s.DependsOn, Ref{Name: d, Namespace: byName[d].Namespace})
		}
		sort.Slice(s.DependsOn, func(i, j int) bool { return s.DependsOn[i].Name < s.DependsOn[j].Name })
		p.Steps = append(p.Steps, s)

		ns := namespaces[c.Namespace]
		if ns == nil {
			ns = &Namespace{Name: c.Namespace}
			namespaces[c.Namespace] = ns
		}
		ns.Privileged = ns.Privileged || c.Privileged
		ns.Components = append(ns.Components, c.Name)
	}
	sort.SliceStable(p.Steps, func(i, j int) bool {
		if p.Steps[i].Level != p.Steps[j].Level {
			return p.Steps[i].Level < p.Steps[j].Level
		}
		return p.Steps[i].Chart < p.Steps[j].Chart
	})
	for _, ns := range namespaces {
		if spec, ok := b.Namespaces[ns.Name]; ok {
			ns.Labels, ns.Annotations = spec.Labels, spec.Annotations
			if spec.PodSecurity != "" {
				ns.PodSecurity = spec.PodSecurity
				ns.Privileged = spec.PodSecurity == api.PodSecurityPrivileged
			}
		}
		if ns.Privileged {
			ns.PodSecurity = api.PodSecurityPrivileged
		}
		sort.Strings(ns.Components)
		p.Namespaces = append(p.Namespaces, *ns)
	}
	sort.Slice(p.Namespaces, func(i, j int) bool { return p.Namespaces[i].Name < p.Namespaces[j].Name })
	return p, nil
}

// Step returns the step of the named component, or nil.
func (p *Plan) Step(name string) *Step {
	for _, s := range p.Steps {
		if s.Component.Name == name {
			return s
		}
	}
	return nil
}

// Depth is the number of dependency levels.
func (p *Plan) Depth() int {
	d := 0
	for _, s := range p.Steps {
		d = max(d, s.Level+1)
	}
	return d
}

// Merge layers b over a the way Helm layers "-f" values files: maps merge
// key by key, anything else in b replaces what a holds. Neither input is
// changed. (Helm's own loader.MergeMaps does the same but would pull
// network code into this package; a test holds the two to the same result.)
//
// The result shares nothing with a or b: Helm's coalescing writes into the
// maps it is given, and a shared map would carry a chart's defaults into
// the bundle's values.
func Merge(a, b map[string]any) map[string]any {
	out := Clone(a)
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = Merge(am, bm)
				continue
			}
		}
		out[k] = cloneValue(v)
	}
	return out
}

// Clone returns a deep copy of values (maps, lists and scalars as decoded
// from JSON or YAML); nil gives an empty map.
func Clone(values map[string]any) map[string]any {
	out := make(map[string]any, len(values))
	for k, v := range values {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return Clone(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}
