package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/render/validate"
)

// checkObjects checks every custom resource the release renders against
// the CRDs its charts install: each kind must be defined by the
// component's own chart or by one it depends on (Flux installs those
// first), or be declared external by the bundle. Objects of Kubernetes'
// own kinds were checked as each chart rendered.
//
// With a cache, a release whose charts were all read from it and whose
// check passed before is not checked again; a chart read from it is
// rendered again when another changed.
func checkObjects(ctx context.Context, o RenderOptions, pl *plan.Plan, charts []*chart.Chart, cache *chart.Cache) error {
	stamp := ""
	if cache != nil {
		stamp = objectsStamp(pl, charts)
		if stamp != "" && cache.Checked(stamp) {
			return nil
		}
	}
	steps := pl.Steps
	crds := make([][]*validate.CRD, len(steps))
	custom := make([][]validate.Object, len(steps))
	crdErrs := make([][]error, len(steps))
	err := forEach(ctx, o.Jobs, len(steps), func(i int) error {
		c, s := charts[i], steps[i]
		crds[i], crdErrs[i], custom[i] = c.Parsed, c.CRDErrors, c.Custom
		if c.Cached {
			if parsed, cr, ok := c.CachedObjects(); ok {
				crds[i], crdErrs[i], custom[i] = parsed, nil, cr
				return nil
			}
			// Not kept: rendered again.
			objs, cr, err := c.Objects(s.Component.ReleaseName, s.Component.Namespace, s.Values)
			if err != nil {
				return &ComponentError{Component: s.Component.Name, Pos: s.Component.Pos, Err: err}
			}
			custom[i] = cr
			crds[i], crdErrs[i] = validate.ParseCRDs(objs)
		}
		return nil
	})
	if err != nil {
		return err
	}

	rel := validate.NewRelease()
	var errs []error
	for i, s := range steps {
		cerrs := crdErrs[i]
		for _, crd := range crds[i] {
			if err := rel.AddCRD(s.Component.Name, crd); err != nil {
				cerrs = append(cerrs, err)
			}
		}
		if len(cerrs) > 0 {
			errs = append(errs, &ComponentError{Component: s.Component.Name, Pos: s.Component.Pos, Err: &chart.InvalidError{Errs: cerrs}})
		}
	}
	external := externalAPIs(pl.Bundle.ExternalAPIs)
	deps := map[string]map[string]bool{}
	for i, s := range steps {
		d := map[string]bool{}
		for _, dep := range s.DependsOn {
			d[dep.Name] = true
			for n := range deps[dep.Name] {
				d[n] = true
			}
		}
		deps[s.Component.Name] = d
		if s.Component.AsIs {
			continue
		}
		var cerrs []error
		for _, obj := range custom[i] {
			cerrs = append(cerrs, rel.Check(s.Component.Name, d, obj, external)...)
		}
		if len(cerrs) > 0 {
			errs = append(errs, &ComponentError{Component: s.Component.Name, Pos: s.Component.Pos, Err: &chart.InvalidError{Errs: cerrs}})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if stamp != "" {
		cache.MarkChecked(stamp)
	}
	return nil
}

// externalAPIs matches kinds against a bundle's externalAPIs: "group"
// or "group/Kind".
func externalAPIs(decl []string) func(schema.GroupVersionKind) bool {
	return func(gvk schema.GroupVersionKind) bool {
		for _, d := range decl {
			group, kind, hasKind := strings.Cut(d, "/")
			if group == gvk.Group && (!hasKind || kind == gvk.Kind) {
				return true
			}
		}
		return false
	}
}

// objectsStamp is the key of a release's object check: every chart's cache
// key and every component's dependencies and the bundle's external APIs;
// "" when a chart has no cache key.
func objectsStamp(pl *plan.Plan, charts []*chart.Chart) string {
	type step struct {
		Key       string
		Component string
		DependsOn []string
		AsIs      bool
	}
	in := struct {
		Steps    []step
		External []string
	}{External: pl.Bundle.ExternalAPIs}
	for i, s := range pl.Steps {
		if charts[i].Key == "" {
			return ""
		}
		st := step{Key: charts[i].Key, Component: s.Component.Name, AsIs: s.Component.AsIs}
		for _, d := range s.DependsOn {
			st.DependsOn = append(st.DependsOn, d.Name)
		}
		in.Steps = append(in.Steps, st)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
