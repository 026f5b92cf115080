package action

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	cueload "cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/encoding/jsonschema"

	"github.com/distgen/distgen/schemas"
)

// Schema prints the schemas distgen is built with: all of them, or the
// definitions named (#Bundle, #Component, #Versions, #TenantBundle, …),
// each as written, with its comments. With JSONSchema it exports one
// definition (default #Bundle) as JSON Schema, through CUE's own encoder,
// for editors and YAML/JSON language servers.
type Schema struct {
	Defs       []string
	JSONSchema bool
}

// Run returns the text.
func (s *Schema) Run() (string, error) {
	files, err := schemaFiles()
	if err != nil {
		return "", err
	}
	if s.JSONSchema {
		def := "#Bundle"
		switch len(s.Defs) {
		case 0:
		case 1:
			def = s.Defs[0]
		default:
			return "", &UsageError{Msg: "--json-schema exports one definition at a time"}
		}
		return jsonSchema(files, def)
	}
	if len(s.Defs) == 0 {
		var b strings.Builder
		for i, f := range files {
			if i > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "// schemas/%s\n%s", f.name, f.src)
		}
		return b.String(), nil
	}
	decls := map[string]ast.Decl{}
	var names []string
	for _, f := range files {
		for _, d := range f.ast.Decls {
			if fd, ok := d.(*ast.Field); ok {
				if id, ok := fd.Label.(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") {
					decls[id.Name] = fd
					names = append(names, id.Name)
				}
			}
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for i, def := range s.Defs {
		if !strings.HasPrefix(def, "#") {
			def = "#" + def
		}
		d, ok := decls[def]
		if !ok {
			return "", &UsageError{Msg: fmt.Sprintf("no schema %s (have %s)", def, strings.Join(names, ", "))}
		}
		out, err := format.Node(d)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.Write(out)
		b.WriteString("\n")
	}
	return b.String(), nil
}

// schemaFile is one embedded schema file, as written and parsed.
type schemaFile struct {
	name string
	src  []byte
	ast  *ast.File
}

func schemaFiles() ([]schemaFile, error) {
	var out []schemaFile
	err := fs.WalkDir(schemas.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".cue" {
			return err
		}
		src, err := schemas.FS.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(p, src, parser.ParseComments)
		if err != nil {
			return err
		}
		out = append(out, schemaFile{name: p, src: src, ast: f})
		return nil
	})
	return out, err
}

// jsonSchema exports the definition def of the schemas as JSON Schema.
func jsonSchema(files []schemaFile, def string) (string, error) {
	if !strings.HasPrefix(def, "#") {
		def = "#" + def
	}
	const dir = "/distgen-schemas"
	overlay := map[string]cueload.Source{}
	for _, f := range files {
		overlay[path.Join(dir, f.name)] = cueload.FromBytes(f.src)
	}
	insts := cueload.Instances([]string{"."}, &cueload.Config{Dir: dir, Overlay: overlay})
	if insts[0].Err != nil {
		return "", insts[0].Err
	}
	ctx := cuecontext.New()
	pkg := ctx.BuildInstance(insts[0])
	if pkg.Err() != nil {
		return "", pkg.Err()
	}
	v := pkg.LookupPath(cue.ParsePath(def))
	if !v.Exists() {
		return "", &UsageError{Msg: fmt.Sprintf("no schema %s", def)}
	}
	expr, err := jsonschema.Generate(v, nil)
	if err != nil {
		return "", fmt.Errorf("%s as JSON Schema: %w", def, err)
	}
	raw, err := ctx.BuildExpr(expr).MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("%s as JSON Schema: %w", def, err)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return "", err
	}
	b.WriteString("\n")
	return b.String(), nil
}
