package action

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/internal/manifest"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/render/flux"
)

// Diff compares two releases: the components added, removed and changed
// (chart version and digest, upstream versions, dependencies, namespace),
// the values each HelmRelease sets as a list of changed paths, the objects
// each changed component's chart renders (what Flux would apply, with
// Secrets' data masked), the images and the namespaces.
type Diff struct {
	// Old and New each name a build output directory (dist/<bundle>) or
	// its release.json, a project directory (built first), or a pushed
	// release: oci://HOST/PREFIX/bundles/NAME:VERSION, oci-layout:DIR or
	// FILE.tar.
	Old, New string
	// Bundle is the bundle of a project side, and NAME:VERSION in a
	// layout or archive that holds several.
	Bundle    string
	PlainHTTP bool
	// Cache is the build cache a project side is built with.
	Cache *chart.Cache
	// NoObjects leaves out the rendered objects (no chart is rendered).
	NoObjects bool
	// KubeVersion charts are rendered for ("" for the default).
	KubeVersion string
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
	// Objects are the rendered objects added, removed or changed.
	Objects []ObjectDiff `json:"objects,omitempty"`
	Images  SetDiff      `json:"images"`
}

// ObjectDiff is one rendered object of a component that was added,
// removed or changed; a changed one lists its fields that changed. The
// values of a Secret's data and stringData are never shown.
type ObjectDiff struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Status is "added", "removed" or "changed".
	Status string        `json:"status"`
	Fields []ValueChange `json:"fields,omitempty"`
}

// ID names the object: KIND NAMESPACE/NAME (KIND NAME when cluster-wide).
func (o ObjectDiff) ID() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// ValueChange is one value path that changed; From or To is absent when
// the path was added or removed.
type ValueChange struct {
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// Describe says the change in words, each value as JSON: "path: + to",
// "path: - from" or "path: from -> to".
func (v ValueChange) Describe() string {
	show := func(x any) string {
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	switch {
	case v.From == nil:
		return v.Path + ": + " + show(v.To)
	case v.To == nil:
		return v.Path + ": - " + show(v.From)
	}
	return v.Path + ": " + show(v.From) + " -> " + show(v.To)
}

// side is one release read for a diff.
type side struct {
	*sideSource
	values     map[string]map[string]any
	namespaces []string
}

// Run compares the two releases.
func (d *Diff) Run(ctx context.Context) (*DiffResult, error) {
	old, err := d.side(ctx, d.Old)
	if err != nil {
		return nil, err
	}
	defer old.close()
	cur, err := d.side(ctx, d.New)
	if err != nil {
		return nil, err
	}
	defer cur.close()
	return d.compare(ctx, old, cur)
}

// compare says what changed from old to cur.
func (d *Diff) compare(ctx context.Context, old, cur *side) (*DiffResult, error) {
	var err error
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
		if !d.NoObjects && (cd.Status != "changed" || o.Chart.Digest != c.Chart.Digest || len(cd.Values) > 0 ||
			o.Namespace != c.Namespace || o.ReleaseName != c.ReleaseName) {
			var was, now map[string]object
			if inOld {
				if was, err = d.objects(ctx, old, o); err != nil {
					return nil, err
				}
			}
			if inNew {
				if now, err = d.objects(ctx, cur, c); err != nil {
					return nil, err
				}
			}
			cd.Objects = objectDiff(was, now)
		}
		res.Components = append(res.Components, cd)
	}
	return res, nil
}

// side opens spec and reads each HelmRelease's values and the namespaces.
func (d *Diff) side(ctx context.Context, spec string) (*side, error) {
	src, err := d.openSide(ctx, spec)
	if err != nil {
		return nil, err
	}
	s, err := readSide(src)
	if err != nil {
		src.close()
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	return s, nil
}

// readSide reads each HelmRelease's values and the namespaces.
func readSide(src *sideSource) (*side, error) {
	s := &side{sideSource: src, values: map[string]map[string]any{}}
	for _, c := range src.rel.Components {
		path := flux.ComponentFile(c.Name)
		docs, err := fileDocs(src, path)
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
	path := "namespaces.yaml"
	docs, err := fileDocs(src, path)
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

// fileDocs reads the YAML documents of the Flux file at path.
func fileDocs(src *sideSource, path string) ([][]byte, error) {
	b, err := src.file(path)
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
// walked key by key, lists of the same length item by item (path[i]), and
// anything else compared whole.
func valueDiff(prefix string, a, b map[string]any) []ValueChange {
	var out []ValueChange
	for _, k := range unionKeys(a, b) {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inA:
			out = append(out, ValueChange{Path: path, To: bv})
		case !inB:
			out = append(out, ValueChange{Path: path, From: av})
		default:
			out = append(out, anyDiff(path, av, bv)...)
		}
	}
	return out
}

// anyDiff is valueDiff for two values found at path.
func anyDiff(path string, a, b any) []ValueChange {
	if am, ok := a.(map[string]any); ok {
		if bm, ok := b.(map[string]any); ok {
			return valueDiff(path, am, bm)
		}
	}
	if al, ok := a.([]any); ok {
		if bl, ok := b.([]any); ok && len(al) == len(bl) {
			var out []ValueChange
			for i := range al {
				out = append(out, anyDiff(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i])...)
			}
			return out
		}
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []ValueChange{{Path: path, From: a, To: b}}
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
