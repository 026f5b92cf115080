package load

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"cuelang.org/go/cue"

	"github.com/distgen/distgen/generator/api"
)

// Site loads the project at root, checks a site file (CUE, or JSON or YAML
// written as CUE accepts them) against the #site schema of a bundle, and
// returns the project and the site's values. Problems name the site
// file's line and column, or the schema's constraint, and are all
// reported at once.
func Site(root, bundle, file string) (*api.Project, map[string]any, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, nil, err
	}
	ctx, insts, vals, cfg, err := evaluate(root)
	if err != nil {
		return nil, nil, err
	}
	proj, err := project(root, ctx, insts, vals, cfg, Options{})
	if err != nil {
		return nil, nil, err
	}
	values, err := site(ctx, vals[1], root, bundle, file)
	return proj, values, err
}

func site(ctx *cue.Context, bundles cue.Value, root, bundle, file string) (map[string]any, error) {
	b := bundles.LookupPath(cue.MakePath(cue.Str("bundles"), cue.Str(bundle)))
	if !b.Exists() {
		return nil, &Error{Pos: BundlesDir + "/", Msg: fmt.Sprintf("no bundle %q", bundle)}
	}
	schema := b.LookupPath(cue.MakePath(cue.Def("site")))
	if !schema.Exists() {
		return nil, &Error{Pos: BundlesDir + "/", Msg: fmt.Sprintf("bundle %q declares no #site: it takes no site values", bundle)}
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	site := ctx.CompileBytes(src, cue.Filename(abs))
	if err := site.Err(); err != nil {
		return nil, fromCUE(err, root, nil)
	}
	v := schema.Unify(site)
	if err := validate(v); err != nil {
		return nil, fromCUE(err, root, nil).unique()
	}
	b2, err := v.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b2, &out); err != nil {
		return nil, fmt.Errorf("site values: %w", err)
	}
	return out, nil
}
