package load

import (
	"cuelang.org/go/cue/ast"
)

// declarations maps "bundle/component" to where the component is written
// in the bundle files: the position of its label. Reading it from the
// syntax is cheap, where asking the evaluated value for its conjuncts is
// not; components not written literally are left to userPos.
func declarations(files []*ast.File, root string) map[string]string {
	out := map[string]string{}
	var walk func(decls []ast.Decl, path []string)
	walk = func(decls []ast.Decl, path []string) {
		for _, d := range decls {
			f, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				continue
			}
			p := append(path[:len(path):len(path)], name)
			if len(p) == 4 && p[0] == "bundles" && p[2] == "components" {
				key := p[1] + "/" + p[3]
				if _, seen := out[key]; !seen {
					out[key] = relPos(f.Label.Pos(), root)
				}
				continue
			}
			if s, ok := f.Value.(*ast.StructLit); ok && len(p) < 4 {
				walk(s.Elts, p)
			}
		}
	}
	for _, f := range files {
		walk(f.Decls, nil)
	}
	return out
}
