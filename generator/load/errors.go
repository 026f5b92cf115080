package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// Error is one problem in a project, at a position in its sources.
type Error struct {
	// Pos is "file:line:col" relative to the project root, when known.
	Pos string
	// Path is the CUE path ("bundles.demo.components.x.version") or empty.
	Path string
	// Component the problem concerns, or empty.
	Component string
	Msg       string
	// Also lists further positions that take part (a schema constraint).
	Also []string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Pos != "" {
		b.WriteString(e.Pos)
		b.WriteString(": ")
	}
	if e.Component != "" {
		fmt.Fprintf(&b, "component %q: ", e.Component)
	} else if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if len(e.Also) > 0 {
		fmt.Fprintf(&b, " (see %s)", strings.Join(e.Also, ", "))
	}
	return b.String()
}

// Errors is every problem found in a project, in a stable order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the single problems.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// IsUserError reports whether err is a problem in the project's sources
// rather than a fault of distgen or the machine.
func IsUserError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// fromCUE turns a CUE error (a list of errors) into Errors with positions
// relative to root. The primary position is in the user's files, preferring
// one that points at a literal (the offending value) over one that points at
// a reference (a schema applied by a pattern); schema positions come last.
// When an error points at no literal, lookup (if not nil) finds where the
// value at the error's path, or its nearest parent, is declared outside the
// files the error already names: a component missing from versions.cue is
// reported at the component, not at the reference that failed.
func fromCUE(err error, root string, lookup func(path []string, skip []string) string) Errors {
	src := sources{}
	var out Errors
	seen := map[string]bool{}
	errs := cueerrors.Errors(err)
	for _, ce := range errs {
		format, args := ce.Msg()
		msg := fmt.Sprintf(format, args...)
		if len(errs) > 1 && strings.Contains(msg, "errors in empty disjunction") {
			continue // its parts are reported on their own
		}
		e := &Error{Path: strings.Join(ce.Path(), "."), Msg: msg}
		var literal, user, schema []string
		for _, p := range cueerrors.Positions(ce) {
			s := relPos(p, root)
			if s == "" || slices.Contains(literal, s) || slices.Contains(user, s) || slices.Contains(schema, s) {
				continue
			}
			switch {
			case strings.HasPrefix(s, "schemas/") || strings.HasPrefix(s, "cue.mod/"):
				schema = append(schema, s)
			case src.isSpecific(p):
				literal = append(literal, s)
			default:
				user = append(user, s)
			}
		}
		all := append(append(literal, user...), schema...)
		if len(literal) == 0 && lookup != nil {
			if p := lookup(ce.Path(), files(user)); p != "" {
				all = append([]string{p}, all...)
			}
		}
		if len(all) > 0 {
			e.Pos, e.Also = all[0], all[1:]
		}
		key := e.Pos + " " + e.Path
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	return out
}

// files returns the file part of "file:line:col" positions.
func files(positions []string) []string {
	out := make([]string, len(positions))
	for i, p := range positions {
		out[i], _, _ = strings.Cut(p, ":")
	}
	return out
}

// sources reads the files errors point into, to tell what a position shows.
type sources map[string][]byte

// labelRE matches a field label at the start of a position's source.
var labelRE = regexp.MustCompile(`^("[^"\n]*"|[A-Za-z_$#][A-Za-z0-9_$#-]*)[?!]?\s*:`)

// isSpecific reports whether the source at p starts a literal value or a
// field's label: the place a user wrote, not a reference to a schema.
func (s sources) isSpecific(p token.Pos) bool {
	b, ok := s[p.Filename()]
	if !ok {
		b, _ = os.ReadFile(p.Filename())
		s[p.Filename()] = b
	}
	off := p.Offset()
	if off < 0 || off >= len(b) {
		return false
	}
	rest := string(b[off:])
	switch c := rest[0]; {
	case c == '"' || c == '\'' || c == '[' || c == '{' || c == '-' || (c >= '0' && c <= '9'):
		return true
	}
	if labelRE.MatchString(rest) {
		return true
	}
	for _, kw := range []string{"true", "false", "null"} {
		if strings.HasPrefix(rest, kw) {
			return true
		}
	}
	return false
}

func relPos(p token.Pos, root string) string {
	if !p.IsValid() {
		return ""
	}
	file := p.Filename()
	if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = filepath.ToSlash(rel)
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line(), p.Column())
}
