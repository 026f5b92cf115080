package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	cueload "cuelang.org/go/cue/load"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/schemas"
)

// VersionsFile and BundlesDir are where a project keeps its pins and bundles.
const (
	VersionsFile = "versions.cue"
	BundlesDir   = "bundles"
)

// ErrNotProject is returned for a directory without versions.cue.
var ErrNotProject = errors.New("not a distgen project")

// FindRoot returns dir or the nearest parent holding versions.cue.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, VersionsFile)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: no %s in %s or any parent", ErrNotProject, VersionsFile, abs)
		}
	}
}

// Project loads, validates and decodes the project at root. It returns
// Errors when the sources have problems, listing all of them.
func Project(root string) (*api.Project, error) { return ProjectWith(root, Options{}) }

// Options tune a load; the zero Options are a plain load.
type Options struct {
	// ValuesCache, when set, is a directory where parsed values files are
	// kept by the hash of their bytes (and the distgen binary's build ID),
	// so that an unchanged values file is decoded from JSON, not parsed
	// as YAML again. Parsing YAML is most of the load of a project whose
	// charts ship large commented values files.
	ValuesCache string
}

// ProjectWith is Project with options.
func ProjectWith(root string, o Options) (*api.Project, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	ctx, insts, vals, cfg, err := evaluate(root)
	if err != nil {
		return nil, err
	}
	return project(root, ctx, insts, vals, cfg, o)
}

// evaluate loads and evaluates the root and bundles packages of the
// project at root, with distgen's schemas in force.
func evaluate(root string) (*cue.Context, []*build.Instance, []cue.Value, *cueload.Config, error) {
	if _, err := os.Stat(filepath.Join(root, VersionsFile)); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: %s has no %s", ErrNotProject, root, VersionsFile)
	}
	overlay, err := overlay(root)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cfg := &cueload.Config{Dir: root, ModuleRoot: root, Overlay: overlay}
	dirs := []string{".", "./" + BundlesDir}
	insts := cueload.Instances(dirs, cfg)
	var errs Errors
	for _, inst := range insts {
		if inst.Err != nil {
			errs = append(errs, instanceErrors(inst, root)...)
		}
	}
	if len(errs) > 0 {
		return nil, nil, nil, nil, errs
	}
	// The schemas are in force whatever the user's files say: a file of
	// distgen's own in each package applies them, so that they are part of
	// the one evaluation (unifying afterwards would evaluate twice).
	for i, src := range enforcement(insts[0].Module) {
		overlay[filepath.Join(root, filepath.FromSlash(dirs[i]), enforcedFile)] = cueload.FromString(fmt.Sprintf(src, insts[i].PkgName))
	}
	insts = cueload.Instances(dirs, cfg)
	for _, inst := range insts {
		if inst.Err != nil {
			errs = append(errs, instanceErrors(inst, root)...)
		}
	}
	if len(errs) > 0 {
		return nil, nil, nil, nil, errs
	}
	ctx := cuecontext.New()
	vals, err := ctx.BuildInstances(insts)
	if err != nil {
		return nil, nil, nil, nil, fromCUE(err, root, nil)
	}
	return ctx, insts, vals, cfg, nil
}

// instanceErrors are the errors of loading a package (a file of another
// package among its files, a syntax error, an import that fails): with the
// project's paths relative to root, and the package's directory as the
// position of an error that has none.
func instanceErrors(inst *build.Instance, root string) Errors {
	dir, err := filepath.Rel(root, inst.Dir)
	if err != nil {
		dir = inst.Dir
	}
	errs := fromCUE(inst.Err, root, nil)
	for _, e := range errs {
		e.Msg = strings.ReplaceAll(e.Msg, root+string(filepath.Separator), "")
		e.Msg = strings.ReplaceAll(e.Msg, root, ".")
		if e.Pos == "" {
			e.Pos = filepath.ToSlash(dir) + "/"
		}
	}
	return errs
}

// project decodes and checks an evaluated project.
func project(root string, ctx *cue.Context, insts []*build.Instance, vals []cue.Value, cfg *cueload.Config, o Options) (*api.Project, error) {
	var errs Errors
	lookup := func(path []string, skip []string) string {
		for n := len(path); n > 0; n-- {
			sels := make([]cue.Selector, n)
			for i, p := range path[:n] {
				sels[i] = cue.Str(p)
			}
			for _, v := range vals {
				if lv := v.LookupPath(cue.MakePath(sels...)); lv.Exists() {
					p := userPos(lv, root)
					file, _, _ := strings.Cut(p, ":")
					if p != "" && !isSchemaPos(p) && !slices.Contains(skip, file) {
						return p
					}
				}
			}
		}
		return ""
	}
	versionsV := vals[0].LookupPath(cue.ParsePath("versions"))
	bundlesV := vals[1].LookupPath(cue.ParsePath("bundles"))
	tenantsV := vals[1].LookupPath(cue.ParsePath("tenantBundles"))
	for _, v := range []struct {
		v    cue.Value
		what string
		file string
	}{{versionsV, "versions", VersionsFile}, {bundlesV, "bundles", BundlesDir + "/"}, {tenantsV, "", ""}} {
		if !v.v.Exists() {
			if v.what == "" {
				continue // tenant bundles are optional
			}
			errs = append(errs, &Error{Pos: v.file, Msg: fmt.Sprintf("no %q field", v.what)})
			continue
		}
		if err := validate(v.v); err != nil {
			errs = append(errs, fromCUE(err, root, lookup)...)
		}
	}
	if len(errs) > 0 {
		return nil, errs.unique()
	}

	p := &api.Project{Root: root, Bundles: map[string]*api.Bundle{}}
	if err := decodeVersions(versionsV, &p.Versions); err != nil {
		return nil, Errors{{Pos: relPos(versionsV.Pos(), root), Path: "versions", Msg: err.Error()}}
	}
	iter, err := bundlesV.Fields()
	if err != nil {
		return nil, fromCUE(err, root, lookup)
	}
	decls := declarations(insts[1].Files, root)
	checked := map[string]bool{}
	typed := &appSchemas{ctx: ctx, cfg: cfg, root: root, byApp: map[string]cue.Value{}}
	for iter.Next() {
		b, berrs := decodeBundle(iter.Value(), root, decls, checked, typed, o)
		errs = append(errs, berrs...)
		if b != nil {
			p.Bundles[b.Name] = b
			errs = append(errs, check(b)...)
		}
	}
	tb, terrs := tenantBundles(ctx, tenantsV, p, cfg, lookup)
	errs = append(errs, terrs...)
	p.TenantBundles = tb
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// validate checks that v is concrete and valid, and reports every problem:
// CUE stops at the first value it finds incomplete, so each failing struct
// or list is checked field by field, down to where the problems are.
func validate(v cue.Value) error {
	err := v.Validate(cue.Concrete(true), cue.Final(), cue.All())
	if err == nil {
		return nil
	}
	var children []error
	var failed []string // the paths of the children that reported problems
	check := func(c cue.Value) {
		if e := validate(c); e != nil {
			children = append(children, e)
			failed = append(failed, c.Path().String())
		}
	}
	switch v.IncompleteKind() {
	case cue.StructKind:
		if iter, ierr := v.Fields(); ierr == nil {
			for iter.Next() {
				check(iter.Value())
			}
		}
	case cue.ListKind:
		if iter, ierr := v.List(); ierr == nil {
			for iter.Next() {
				check(iter.Value())
			}
		}
	}
	if len(children) == 0 {
		return err
	}
	// The problems v itself found that no failing child reports (a field
	// not allowed is v's problem, not the field's) still count.
	var own cueerrors.Error
	for _, e := range cueerrors.Errors(err) {
		p := strings.Join(e.Path(), ".")
		covered := false
		for _, f := range failed {
			covered = covered || p == f || strings.HasPrefix(p, f+".")
		}
		if !covered {
			own = cueerrors.Append(own, e)
		}
	}
	for _, c := range children {
		own = cueerrors.Append(own, cueerrors.Promote(c, ""))
	}
	return own
}

// enforcedFile is the file distgen adds to the root and bundles packages
// to put its schemas in force.
const enforcedFile = "zz_distgen_schemas.cue"

// enforcement returns, for the root package and the bundles package, the
// source of the file that unifies versions, every bundle and every tenant
// bundle with its definition (a bundle's name is its key); %s is the
// package name.
func enforcement(module string) [2]string {
	mod, _, _ := strings.Cut(module, "@")
	imp := fmt.Sprintf("import distgenschemas %q\n\n", mod+"/schemas")
	return [2]string{
		"package %s\n\n" + imp + "versions: distgenschemas.#Versions\n",
		"package %s\n\n" + imp +
			"bundles: [Name=string]: distgenschemas.#Bundle & {name: Name}\n" +
			"tenantBundles: [Name=string]: distgenschemas.#TenantBundle & {name: Name}\n",
	}
}

// Bundle selects a bundle of a project by name; an empty name selects the
// only bundle there is.
func Bundle(p *api.Project, name string) (*api.Bundle, error) {
	return choose("bundle", p.Bundles, name)
}

// TenantBundle selects a tenant bundle of a project by name; an empty name
// selects the only one there is.
func TenantBundle(p *api.Project, name string) (*api.TenantBundle, error) {
	return choose("tenant bundle", p.TenantBundles, name)
}

// choose picks the entry called name, or the only entry when name is empty.
func choose[T any](kind string, all map[string]T, name string) (T, error) {
	names := slices.Sorted(maps.Keys(all))
	if name != "" {
		if v, ok := all[name]; ok {
			return v, nil
		}
		var zero T
		return zero, &Error{Pos: BundlesDir + "/", Msg: fmt.Sprintf("no %s %q (have %v)", kind, name, names)}
	}
	if len(names) == 1 {
		return all[names[0]], nil
	}
	var zero T
	return zero, &Error{Pos: BundlesDir + "/", Msg: fmt.Sprintf("%d %ss %v: choose one with --bundle", len(names), kind, names)}
}

// overlay places the embedded schemas (and a module file when the project
// has none) over the project, so the binary's schemas are the ones in force.
func overlay(root string) (map[string]cueload.Source, error) {
	ov := map[string]cueload.Source{}
	err := fs.WalkDir(schemas.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := schemas.FS.ReadFile(path)
		if err != nil {
			return err
		}
		ov[filepath.Join(root, "schemas", path)] = cueload.FromBytes(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	mod := filepath.Join(root, "cue.mod", "module.cue")
	if _, err := os.Stat(mod); err != nil {
		ov[mod] = cueload.FromString(fmt.Sprintf("module: %q\nlanguage: version: \"v0.12.0\"\n", schemas.Module))
	}
	return ov, nil
}

// decode goes through JSON so that values hold what YAML values files hold
// (numbers as float64), the same types Helm works with.
func decode(v cue.Value, into any) error {
	b, err := v.MarshalJSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func decodeVersions(v cue.Value, out *api.Versions) error {
	var raw struct {
		api.Versions
		ReleaseDate string `json:"releaseDate"`
	}
	if err := decode(v, &raw); err != nil {
		return err
	}
	*out = raw.Versions
	t, err := time.Parse(time.RFC3339, raw.ReleaseDate)
	if err != nil {
		return fmt.Errorf("releaseDate: %w", err)
	}
	out.ReleaseDate = t.UTC()
	return nil
}

func decodeBundle(v cue.Value, root string, decls map[string]string, checked map[string]bool, typed *appSchemas, o Options) (*api.Bundle, Errors) {
	var raw struct {
		Name        string                       `json:"name"`
		Version     string                       `json:"version"`
		ReleaseDate string                       `json:"releaseDate"`
		Description string                       `json:"description"`
		Images      []string                     `json:"images"`
		External    []string                     `json:"externalAPIs"`
		Namespaces  map[string]api.NamespaceSpec `json:"namespaces"`
	}
	pos := userPos(v, root)
	// The bundle's own fields, each decoded alone: decoding the whole
	// bundle would marshal every component, which is decoded below.
	for _, f := range []struct {
		name string
		into any
	}{{"name", &raw.Name}, {"version", &raw.Version}, {"releaseDate", &raw.ReleaseDate}, {"description", &raw.Description},
		{"images", &raw.Images}, {"externalAPIs", &raw.External}, {"namespaces", &raw.Namespaces}} {
		fv := v.LookupPath(cue.MakePath(cue.Str(f.name)))
		if !fv.Exists() {
			continue
		}
		if err := decode(fv, f.into); err != nil {
			return nil, Errors{{Pos: pos, Msg: err.Error()}}
		}
	}
	t, err := time.Parse(time.RFC3339, raw.ReleaseDate)
	if err != nil {
		return nil, Errors{{Pos: pos, Path: "releaseDate", Msg: err.Error()}}
	}
	b := &api.Bundle{Name: raw.Name, Version: raw.Version, ReleaseDate: t.UTC(), Description: raw.Description, Images: raw.Images, ExternalAPIs: raw.External, Namespaces: raw.Namespaces,
		HasSite: v.LookupPath(cue.MakePath(cue.Def("site"))).Exists()}
	iter, err := v.LookupPath(cue.ParsePath("components")).Fields()
	if err != nil {
		return nil, fromCUE(err, root, nil)
	}
	var errs Errors
	// Each component's problems, in order: its chart's, its values files',
	// its typed values', its values schema's. Values files are parsed
	// together, after every component is decoded.
	type decoded struct {
		c         *api.Component
		cv        cue.Value
		chartErrs Errors
		files     []int
		check     int
	}
	var comps []*decoded
	var files []valuesFile
	var checks []*dirCheck
	for iter.Next() {
		c := &api.Component{}
		cv := iter.Value()
		if c.Pos = decls[raw.Name+"/"+iter.Selector().Unquoted()]; c.Pos == "" {
			c.Pos = userPos(cv, root)
		}
		if err := decode(cv, c); err != nil {
			errs = append(errs, &Error{Pos: c.Pos, Component: iter.Selector().String(), Msg: err.Error()})
			continue
		}
		if c.Values == nil {
			c.Values = map[string]any{}
		}
		d := &decoded{c: c, cv: cv, check: -1}
		fs, ck, cerrs := resolveChart(c, root, checked)
		d.chartErrs = cerrs
		if ck != nil {
			d.check = len(checks)
			checks = append(checks, ck)
		}
		for _, f := range fs {
			d.files = append(d.files, len(files))
			files = append(files, f)
		}
		comps = append(comps, d)
	}
	parsed := parseValues(files, o.ValuesCache)
	dirErrs := checkDirs(checks)
	for _, d := range comps {
		if d.check >= 0 {
			errs = append(errs, dirErrs[d.check]...)
		}
		errs = append(errs, d.chartErrs...)
		for _, i := range d.files {
			errs = append(errs, parsed[i]...)
		}
		errs = append(errs, checkTypedValues(d.c, d.cv, root, typed)...)
		errs = append(errs, checkSchemaValues(d.c, d.cv, root)...)
		b.Components = append(b.Components, d.c)
	}
	sort.Slice(b.Components, func(i, j int) bool { return b.Components[i].Name < b.Components[j].Name })
	return b, errs
}

// userPos is where v is declared in the user's files: the first conjunct of
// v that is not a schema, so a component points at its bundle file rather
// than at the definition it unifies with.
func userPos(v cue.Value, root string) string {
	if op, args := v.Expr(); op == cue.AndOp {
		for _, a := range args {
			if p := relPos(a.Pos(), root); p != "" && !isSchemaPos(p) {
				return p
			}
		}
	}
	return relPos(v.Pos(), root)
}

// checkTypedValues checks a component's values against the #Values of a
// values.cue beside its first-party chart, when the chart has one: a wrong
// type or an unknown field is reported at the bundle's file:line:col.
// Values may leave fields out (the chart's values.yaml has defaults), so
// concreteness is not required.
func checkTypedValues(c *api.Component, cv cue.Value, root string, typed *appSchemas) Errors {
	if c.Chart.Path == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(c.Chart.Path), AppSchemaFile)); err != nil {
		return nil
	}
	def, errs := typed.at(filepath.FromSlash(c.Chart.Path))
	if len(errs) > 0 {
		return errs
	}
	if err := def.Unify(cv.LookupPath(cue.ParsePath("values"))).Validate(cue.Final(), cue.All()); err != nil {
		errs := fromCUE(err, root, nil)
		for _, e := range errs {
			e.Component = c.Name
			e.Msg = fmt.Sprintf("values (typed by %s/%s): %s", c.Chart.Path, AppSchemaFile, e.Msg)
		}
		return errs
	}
	return nil
}
