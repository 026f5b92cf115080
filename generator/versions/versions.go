// Package versions edits a project's versions.cue through CUE's syntax
// tree, so that comments and layout survive an edit and the file stays as
// cue fmt writes it. It sits beside load: it changes the sources load
// reads, and reads no CUE values.
package versions

import (
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	"github.com/Masterminds/semver/v3"
)

// File is a parsed versions.cue.
type File struct {
	name string
	f    *ast.File
}

// Parse parses the source of a versions file, keeping its comments.
func Parse(name string, src []byte) (*File, error) {
	f, err := parser.ParseFile(name, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	return &File{name: name, f: f}, nil
}

// Bytes formats the file as cue fmt does.
func (f *File) Bytes() ([]byte, error) { return format.Node(f.f) }

// Get returns the string at path (versions.components.cilium.chart), and
// where it is.
func (f *File) Get(path ...string) (string, token.Pos, error) {
	lit, err := f.lookup(path)
	if err != nil {
		return "", token.NoPos, err
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return "", lit.Pos(), fmt.Errorf("%s: %s: %s is not a plain string", lit.Pos(), f.name, strings.Join(path, "."))
	}
	return s, lit.Pos(), nil
}

// Set replaces the string at path, which must be written as a plain
// string literal; the rest of the file is left as it is.
func (f *File) Set(value string, path ...string) error {
	lit, err := f.lookup(path)
	if err != nil {
		return err
	}
	lit.Value = strconv.Quote(value)
	return nil
}

// lookup finds the string literal a field path is set to, through structs
// written out or in the shorthand a: b: "x", and through conjunctions
// (schemas.#Versions & {…}).
func (f *File) lookup(path []string) (*ast.BasicLit, error) {
	var found []*ast.BasicLit
	var walk func(decls []ast.Decl, path []string)
	var value func(e ast.Expr, path []string)
	value = func(e ast.Expr, path []string) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if len(path) == 0 && e.Kind == token.STRING {
				found = append(found, e)
			}
		case *ast.StructLit:
			if len(path) > 0 {
				walk(e.Elts, path)
			}
		case *ast.BinaryExpr:
			if e.Op == token.AND {
				value(e.X, path)
				value(e.Y, path)
			}
		case *ast.ParenExpr:
			value(e.X, path)
		}
	}
	walk = func(decls []ast.Decl, path []string) {
		for _, d := range decls {
			field, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name, _, err := ast.LabelName(field.Label)
			if err != nil || name != path[0] {
				continue
			}
			value(field.Value, path[1:])
		}
	}
	walk(f.f.Decls, path)
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s sets no %s as a plain string (add it first)", f.name, strings.Join(path, "."))
	case 1:
		return found[0], nil
	default:
		return nil, fmt.Errorf("%s sets %s %d times (%s and %s): set it once", f.name, strings.Join(path, "."), len(found), found[0].Pos(), found[1].Pos())
	}
}

// Level is the part of a SemVer version a bump raises.
type Level string

// The levels of a bump.
const (
	Patch Level = "patch"
	Minor Level = "minor"
	Major Level = "major"
)

// Next raises version by level, keeping a leading "v".
func Next(version string, level Level) (string, error) {
	v, err := semver.NewVersion(version)
	if err != nil {
		return "", fmt.Errorf("%q is not a SemVer version: %w", version, err)
	}
	var n semver.Version
	switch level {
	case Patch:
		n = v.IncPatch()
	case Minor:
		n = v.IncMinor()
	case Major:
		n = v.IncMajor()
	default:
		return "", fmt.Errorf("level %q: want patch, minor or major", level)
	}
	if strings.HasPrefix(version, "v") {
		return "v" + n.String(), nil
	}
	return n.String(), nil
}

// Compare compares two SemVer versions (a leading "v" allowed): -1, 0, 1.
func Compare(a, b string) (int, error) {
	va, err := semver.NewVersion(a)
	if err != nil {
		return 0, fmt.Errorf("%q is not a SemVer version: %w", a, err)
	}
	vb, err := semver.NewVersion(b)
	if err != nil {
		return 0, fmt.Errorf("%q is not a SemVer version: %w", b, err)
	}
	return va.Compare(vb), nil
}
