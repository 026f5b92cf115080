package load

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"cuelang.org/go/cue"
	cueload "cuelang.org/go/cue/load"

	"github.com/distgen/distgen/generator/api"
)

// AppSchemaFile is the CUE file beside an app chart that types its values
// as #Values.
const AppSchemaFile = "values.cue"

// tenantBundles decodes and checks the tenantBundles of the bundles
// package; a project without tenants has none. Instance values are checked
// against the schema of their app.
func tenantBundles(ctx *cue.Context, v cue.Value, p *api.Project, cfg *cueload.Config, lookup func([]string, []string) string) (map[string]*api.TenantBundle, Errors) {
	out := map[string]*api.TenantBundle{}
	if !v.Exists() {
		return out, nil
	}
	iter, err := v.Fields()
	if err != nil {
		return nil, fromCUE(err, p.Root, lookup)
	}
	schemas := appSchemas{ctx: ctx, cfg: cfg, root: p.Root, byApp: map[string]cue.Value{}}
	known := apps(p.Root)
	var errs Errors
	for iter.Next() {
		b, berrs := decodeTenantBundle(iter.Value(), p.Root)
		errs = append(errs, berrs...)
		if b == nil {
			continue
		}
		out[b.Name] = b
		errs = append(errs, checkTenants(b, p, known)...)
		for _, t := range b.Tenants {
			for _, in := range t.Instances {
				if !slices.Contains(known, in.App) {
					continue // checkTenants reported it
				}
				path := cue.MakePath(cue.Str(t.Name), cue.Str("instances"), cue.Str(in.Name), cue.Str("values"))
				vals := iter.Value().LookupPath(cue.MakePath(cue.Str("tenants"))).LookupPath(path)
				errs = append(errs, schemas.check(in, vals, lookup)...)
			}
		}
	}
	return out, errs
}

func decodeTenantBundle(v cue.Value, root string) (*api.TenantBundle, Errors) {
	var raw struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		ReleaseDate string `json:"releaseDate"`
		Tenants     map[string]struct {
			api.Tenant
			Instances map[string]*api.Instance `json:"instances"`
		} `json:"tenants"`
	}
	pos := userPos(v, root)
	if err := decode(v, &raw); err != nil {
		return nil, Errors{{Pos: pos, Msg: err.Error()}}
	}
	t, err := time.Parse(time.RFC3339, raw.ReleaseDate)
	if err != nil {
		return nil, Errors{{Pos: pos, Path: "releaseDate", Msg: err.Error()}}
	}
	b := &api.TenantBundle{Name: raw.Name, Version: raw.Version, ReleaseDate: t.UTC()}
	tenants := v.LookupPath(cue.ParsePath("tenants"))
	for name, rt := range raw.Tenants {
		tn := rt.Tenant
		tv := tenants.LookupPath(cue.MakePath(cue.Str(name)))
		tn.Pos = userPos(tv, root)
		for iname, in := range rt.Instances {
			in.Pos = userPos(tv.LookupPath(cue.MakePath(cue.Str("instances"), cue.Str(iname))), root)
			if in.Values == nil {
				in.Values = map[string]any{}
			}
			tn.Instances = append(tn.Instances, in)
		}
		sort.Slice(tn.Instances, func(i, j int) bool { return tn.Instances[i].Name < tn.Instances[j].Name })
		b.Tenants = append(b.Tenants, &tn)
	}
	sort.Slice(b.Tenants, func(i, j int) bool { return b.Tenants[i].Name < b.Tenants[j].Name })
	return b, nil
}

// checkTenants checks what the schema cannot: parents that exist and do not
// nest in a circle, namespaces no two tenants share, and apps that exist,
// are pinned and are allowed to the tenant.
func checkTenants(b *api.TenantBundle, p *api.Project, known []string) Errors {
	var errs Errors
	namespaces := map[string]string{}
	for _, t := range b.Tenants {
		fail := func(format string, args ...any) {
			errs = append(errs, &Error{Pos: t.Pos, Path: "tenantBundles." + b.Name + ".tenants." + t.Name, Msg: fmt.Sprintf(format, args...)})
		}
		if other, ok := namespaces[t.Namespace]; ok {
			fail("namespace %q is tenant %q's too", t.Namespace, other)
		}
		namespaces[t.Namespace] = t.Name
		if t.Parent != "" {
			seen := []string{t.Name}
			for cur := t; cur != nil && cur.Parent != ""; {
				if slices.Contains(seen, cur.Parent) {
					fail("parents nest in a circle: %s", strings.Join(append(seen, cur.Parent), " -> "))
					break
				}
				seen = append(seen, cur.Parent)
				next := b.Tenant(cur.Parent)
				if next == nil {
					fail("parent %q is not a tenant of bundle %q", cur.Parent, b.Name)
					break
				}
				cur = next
			}
		}
		for _, in := range t.Instances {
			what := fmt.Sprintf("instance %q: app %q", in.Name, in.App)
			if !slices.Contains(known, in.App) {
				errs = append(errs, &Error{Pos: in.Pos, Msg: fmt.Sprintf("%s: no chart %s/%s (apps: %v)", what, api.AppsDir, in.App, known)})
				continue
			}
			if !slices.Contains(t.Apps, in.App) {
				errs = append(errs, &Error{Pos: in.Pos, Msg: fmt.Sprintf("%s is not among the apps tenant %q may run %v", what, t.Name, t.Apps)})
			}
			if p.Versions.Apps[in.App] == "" {
				errs = append(errs, &Error{Pos: in.Pos, Msg: fmt.Sprintf("%s has no version in %s (versions.apps)", what, VersionsFile)})
			}
		}
	}
	return errs
}

// apps lists the app charts of a project.
func apps(root string) []string {
	matches, _ := filepath.Glob(filepath.Join(root, api.AppsDir, "*", "Chart.yaml"))
	out := make([]string, len(matches))
	for i, m := range matches {
		out[i] = filepath.Base(filepath.Dir(m))
	}
	return out
}

// appSchemas loads each app's values schema once.
type appSchemas struct {
	ctx   *cue.Context
	cfg   *cueload.Config
	root  string
	byApp map[string]cue.Value
}

func (s *appSchemas) schema(app string) (cue.Value, Errors) {
	rel := filepath.Join(api.AppsDir, app)
	if _, err := os.Stat(filepath.Join(s.root, rel, AppSchemaFile)); err != nil {
		return cue.Value{}, Errors{{Pos: filepath.ToSlash(rel), Msg: fmt.Sprintf("app %q has no %s typing its values", app, AppSchemaFile)}}
	}
	return s.at(rel)
}

// at loads the #Values definition of the values.cue in the directory rel
// (relative to the project root).
func (s *appSchemas) at(rel string) (cue.Value, Errors) {
	if v, ok := s.byApp[rel]; ok {
		return v, nil
	}
	app := filepath.Base(rel)
	insts := cueload.Instances([]string{"./" + filepath.ToSlash(rel)}, s.cfg)
	if insts[0].Err != nil {
		return cue.Value{}, fromCUE(insts[0].Err, s.root, nil)
	}
	v := s.ctx.BuildInstance(insts[0])
	if err := v.Err(); err != nil {
		return cue.Value{}, fromCUE(err, s.root, nil)
	}
	def := v.LookupPath(cue.MakePath(cue.Def("#Values")))
	if !def.Exists() {
		return cue.Value{}, Errors{{Pos: filepath.ToSlash(filepath.Join(rel, AppSchemaFile)), Msg: fmt.Sprintf("%s: no #Values definition", app)}}
	}
	s.byApp[rel] = def
	return def, nil
}

// check unifies an instance's values with its app's schema.
func (s *appSchemas) check(in *api.Instance, vals cue.Value, lookup func([]string, []string) string) Errors {
	def, errs := s.schema(in.App)
	if len(errs) > 0 {
		return errs
	}
	if err := def.Unify(vals).Validate(cue.Concrete(true), cue.Final()); err != nil {
		errs := fromCUE(err, s.root, nil)
		for _, e := range errs {
			if e.Pos == "" || strings.HasPrefix(e.Pos, api.AppsDir) {
				e.Also = append(e.Also, e.Pos)
				e.Pos = in.Pos
			}
			e.Msg = fmt.Sprintf("instance %q (app %s): %s", in.Name, in.App, e.Msg)
		}
		return errs
	}
	return nil
}
