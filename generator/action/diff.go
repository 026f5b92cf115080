package action

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/internal/manifest"
	"github.com/distgen/distgen/generator/render/flux"
)

// Diff compares two builds of a release (their output directories): the
// components added, removed and changed (chart version and digest,
// upstream versions, dependencies, namespace), the values each
// HelmRelease sets as a list of changed paths, the images and the
// namespaces.
type Diff struct {
	// Old and New are build output directories (dist/<bundle>).
	Old, New string
}

// DiffResult is what changed from Old to New.
type DiffResult struct {
	Bundle     Change          `json:"bundle"`
	Components []ComponentDiff `json:"components,omitempty"`
	Images     SetDiff         `json:"images"`
	Namespaces SetDiff         `json:"namespaces"`
}

// Changed reports whether anything differs.
func (d *DiffResult) Changed() bool {
	return d.Bundle.From != d.Bundle.To || len(d.Components) > 0 || len(d.Images.Added)+len(d.Images.Removed) > 0 ||
		len(d.Namespaces.Added)+len(d.Namespaces.Removed) > 0
}

// Describe says a field change in words, each value passed through quote:
// "path to", "path from (removed)" or "path from -> to".
func (c Change) Describe(quote func(string) string, arrow string) string {
	switch {
	case c.From == "":
		return c.Path + " " + quote(c.To)
	case c.To == "":
		return c.Path + " " + quote(c.From) + " (removed)"
	}
	return c.Path + " " + quote(c.From) + " " + arrow + " " + quote(c.To)
}

// SetDiff is what a set gained and lost.
type SetDiff struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// ComponentDiff is one component that was added, removed or changed.
type ComponentDiff struct {
	Name string `json:"name"`
	// Status is "added", "removed" or "changed".
	Status string `json:"status"`
	// Fields that changed (chart version and digest, namespace, upstream
	// versions, dependsOn), each From and To.
	Fields []Change `json:"fields,omitempty"`
	// Values are the paths of the HelmRelease's values that changed.
	Values []ValueChange `json:"values,omitempty"`
	Images SetDiff       `json:"images"`
}

// ValueChange is one value path that changed; From or To is absent when
// the path was added or removed.
type ValueChange struct {
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// side is one build read for a diff.
type side struct {
	rel        *api.Release
	values     map[string]map[string]any
	namespaces []string
}

// Run compares the two builds.
func (d *Diff) Run() (*DiffResult, error) {
	old, err := readSide(d.Old)
	if err != nil {
		return nil, err
	}
	cur, err := readSide(d.New)
	if err != nil {
		return nil, err
	}
	res := &DiffResult{
		Bundle: Change{Path: "bundle", From: old.rel.Bundle + ":" + old.rel.Version + "@" + old.rel.Artifact.Digest,
			To: cur.rel.Bundle + ":" + cur.rel.Version + "@" + cur.rel.Artifact.Digest},
		Images:     setDiff(old.rel.Images, cur.rel.Images),
		Namespaces: setDiff(old.namespaces, cur.namespaces),
	}
	byName := func(r *api.Release) map[string]api.ReleaseComponent {
		m := map[string]api.ReleaseComponent{}
		for _, c := range r.Components {
			m[c.Name] = c
		}
		return m
	}
	was, now := byName(old.rel), byName(cur.rel)
	for _, n := range unionKeys(was, now) {
		o, inOld := was[n]
		c, inNew := now[n]
		cd := ComponentDiff{Name: n}
		switch {
		case !inOld:
			cd.Status, cd.Images = "added", setDiff(nil, c.Images)
			cd.Fields = []Change{{Path: "chart", To: c.Chart.Tag + "@" + c.Chart.Digest}}
		case !inNew:
			cd.Status, cd.Images = "removed", setDiff(o.Images, nil)
			cd.Fields = []Change{{Path: "chart", From: o.Chart.Tag + "@" + o.Chart.Digest}}
		default:
			cd.Status = "changed"
			field := func(path, from, to string) {
				if from != to {
					cd.Fields = append(cd.Fields, Change{Path: path, From: from, To: to})
				}
			}
			field("chart.version", o.Chart.Tag, c.Chart.Tag)
			field("chart.digest", o.Chart.Digest, c.Chart.Digest)
			field("namespace", o.Namespace, c.Namespace)
			field("releaseName", o.ReleaseName, c.ReleaseName)
			field("dependsOn", strings.Join(o.DependsOn, ","), strings.Join(c.DependsOn, ","))
			ou, cu := map[string]string{}, map[string]string{}
			for _, u := range o.Upstream {
				ou[u.DependencyName()] = u.Version
			}
			for _, u := range c.Upstream {
				cu[u.DependencyName()] = u.Version
			}
			for _, k := range unionKeys(ou, cu) {
				field("upstream."+k, ou[k], cu[k])
			}
			cd.Values = valueDiff("", old.values[n], cur.values[n])
			cd.Images = setDiff(o.Images, c.Images)
			if len(cd.Fields) == 0 && len(cd.Values) == 0 && len(cd.Images.Added)+len(cd.Images.Removed) == 0 {
				continue
			}
		}
		res.Components = append(res.Components, cd)
	}
	return res, nil
}

// readSide reads a build directory's release.json, each HelmRelease's
// values and the namespaces.
func readSide(dir string) (*side, error) {
	rel, err := readRelease(dir)
	if err != nil {
		return nil, err
	}
	s := &side{rel: rel, values: map[string]map[string]any{}}
	for _, c := range rel.Components {
		path := filepath.Join(dir, "flux", flux.ComponentFile(c.Name))
		docs, err := fileDocs(path)
		if err != nil {
			return nil, err
		}
		for _, doc := range docs {
			if h := manifest.ReadHeader(doc); h.Kind != helmv2.HelmReleaseKind {
				continue
			}
			var hr helmv2.HelmRelease
			if err := yaml.Unmarshal(doc, &hr); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			vals := map[string]any{}
			if hr.Spec.Values != nil {
				if err := json.Unmarshal(hr.Spec.Values.Raw, &vals); err != nil {
					return nil, fmt.Errorf("%s: values: %w", path, err)
				}
			}
			s.values[c.Name] = vals
		}
	}
	path := filepath.Join(dir, "flux", "namespaces.yaml")
	docs, err := fileDocs(path)
	if err != nil {
		return nil, err
	}
	for _, doc := range docs {
		h, err := manifest.Parse(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Kind == "Namespace" {
			s.namespaces = append(s.namespaces, h.Name)
		}
	}
	slices.Sort(s.namespaces)
	return s, nil
}

// fileDocs reads the YAML documents of the file at path.
func fileDocs(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	docs, err := manifest.Docs(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return docs, nil
}

// valueDiff lists the paths under prefix where a and b differ, maps
// walked key by key and anything else compared whole.
func valueDiff(prefix string, a, b map[string]any) []ValueChange {
	var out []ValueChange
	for _, k := range unionKeys(a, b) {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		av, inA := a[k]
		bv, inB := b[k]
		am, aMap := av.(map[string]any)
		bm, bMap := bv.(map[string]any)
		switch {
		case inA && inB && aMap && bMap:
			out = append(out, valueDiff(path, am, bm)...)
		case !inA:
			out = append(out, ValueChange{Path: path, To: bv})
		case !inB:
			out = append(out, ValueChange{Path: path, From: av})
		case !reflect.DeepEqual(av, bv):
			out = append(out, ValueChange{Path: path, From: av, To: bv})
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func setDiff(a, b []string) SetDiff {
	var d SetDiff
	for _, x := range b {
		if !slices.Contains(a, x) {
			d.Added = append(d.Added, x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			d.Removed = append(d.Removed, x)
		}
	}
	return d
}
