package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"github.com/distgen/distgen/schemas"
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

// unique drops a problem already reported at the same position in the
// same words (a value that fails through two paths: a version pinned in
// versions.cue and used by a bundle).
func (es Errors) unique() Errors {
	seen := map[string]bool{}
	out := es[:0]
	for _, e := range es {
		what, _, _ := strings.Cut(e.Msg, " (schema:")
		key := e.Pos + "\x00" + e.Component + "\x00" + what
		if e.Pos != "" && seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, e)
	}
	return out
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
	var out, leftHand Errors
	seen, paths := map[string]bool{}, map[string]bool{}
	errs := cueerrors.Errors(err)
	for _, ce := range errs {
		format, args := ce.Msg()
		msg := fmt.Sprintf(format, args...)
		// Some errors ("import failed") keep what went wrong in the
		// error they wrap: a missing import names its package there.
		if rest, ok := strings.CutPrefix(ce.Error(), msg+": "); ok {
			msg += ": " + posPrefixRE.ReplaceAllString(rest, "")
		}
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
			case isSchemaPos(s):
				schema = append(schema, s)
			case src.isSpecific(p):
				literal = append(literal, s)
			default:
				user = append(user, s)
			}
		}
		all := append(literal, user...)
		if len(literal) == 0 && lookup != nil {
			if p := lookup(ce.Path(), files(user)); p != "" {
				all = append([]string{p}, all...)
			}
		}
		if len(all) > 0 {
			e.Pos, e.Also = all[0], all[1:]
		}
		// Schema positions name files the user's project does not hold:
		// say what the constraint wants, and print it from the schema.
		if len(schema) > 0 {
			e.Msg = inUserTerms(msg, e.Path, schema, src.valueAt(e.Pos, root))
		} else if want, ok := strings.CutPrefix(msg, "incomplete value "); ok {
			e.Msg = "missing: want " + want // a constraint of the user's own
		}
		if strings.HasPrefix(msg, "invalid left-hand value") {
			leftHand = append(leftHand, e)
			continue // the conflict it follows from is reported on its own
		}
		// One problem, one line: the same value failing the same way is
		// reported once, however many paths reach it.
		what, _, _ := strings.Cut(e.Msg, " (schema:")
		byPos, byPath := "pos "+e.Pos+"\x00"+what, "path "+e.Path+"\x00"+what
		if seen[byPos] || seen[byPath] {
			e = nil
		}
		if e != nil {
			seen[byPos], seen[byPath] = true, true
			paths[e.Path] = true
			out = append(out, e)
		}
	}
	for _, e := range leftHand {
		if !paths[e.Path] {
			out = append(out, e)
		}
	}
	return out
}

// constraintKinds are the messages of a value that fails a constraint.
var constraintKinds = []string{"conflicting values", "invalid value", "incomplete value", "out of bound", "empty disjunction", "invalid left-hand value", "non-concrete value"}

// inUserTerms rewrites the message of a value that fails a schema
// constraint: what the constraint wants, and the constraint as the schema
// writes it. Other messages keep their text, with the constraint added.
func inUserTerms(msg, path string, schemaPos []string, value string) string {
	field := path
	if i := strings.LastIndex(path, "."); i >= 0 {
		field = path[i+1:]
	}
	var best, bestWant string
	rank := -1
	for _, p := range schemaPos {
		line := schemaLine(p)
		if line == "" {
			continue
		}
		label, expr, isField := strings.Cut(line, ":")
		label = strings.TrimRight(strings.Trim(label, `"`), "?!")
		want := ""
		if strings.HasPrefix(label, "#") && isField {
			want = schemas.Wants[label]
		}
		for _, ref := range defRE.FindAllString(expr, -1) {
			if w, ok := schemas.Wants[ref]; ok && want == "" {
				want = w
			}
		}
		r := 0
		switch {
		case label == field && want != "":
			r = 4
		case label == field:
			r = 3
		case want != "" && !strings.HasPrefix(label, "#"):
			r = 2
		case want != "":
			r = 1
		}
		if r > rank {
			best, bestWant, rank = line, want, r
		}
	}
	if best == "" {
		return msg
	}
	constraint := false
	for _, k := range constraintKinds {
		constraint = constraint || strings.Contains(msg, k)
	}
	if !constraint {
		return fmt.Sprintf("%s (schema: %s)", msg, best)
	}
	if bestWant == "" {
		_, expr, _ := strings.Cut(best, ":")
		if m := basicRE.FindStringSubmatch(expr); m != nil {
			bestWant = "must be a " + m[1]
		} else {
			return fmt.Sprintf("%s (schema: %s)", msg, best)
		}
	}
	if value == "" {
		if m := msgValueRE.FindStringSubmatch(msg); m != nil {
			value = m[1]
		}
	}
	switch {
	case strings.Contains(msg, "incomplete value") || strings.Contains(msg, "non-concrete value"):
		return fmt.Sprintf("missing: %s (schema: %s)", bestWant, best)
	case value != "":
		return fmt.Sprintf("invalid value %s: %s (schema: %s)", value, bestWant, best)
	default:
		return fmt.Sprintf("invalid value: %s (schema: %s)", bestWant, best)
	}
}

// posPrefixRE matches a position that starts an error's text.
var posPrefixRE = regexp.MustCompile(`^\S+\.cue:\d+:\d+: `)

// basicRE matches a constraint that is a basic type, perhaps with a default.
var basicRE = regexp.MustCompile(`^\s*(bool|string|int|number|float)\b`)

// msgValueRE finds the value CUE names in "invalid value X (...)".
var msgValueRE = regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*"|[^\s(]+)`)

// defRE matches a reference to a definition.
var defRE = regexp.MustCompile(`#[A-Za-z][A-Za-z0-9]*`)

// schemaLine is the trimmed line of the embedded schema at a position
// "schemas/FILE:LINE:COL", comments cut off.
func schemaLine(pos string) string {
	parts := strings.Split(pos, ":")
	if len(parts) < 2 {
		return ""
	}
	b, err := schemas.FS.ReadFile(strings.TrimPrefix(parts[0], "schemas/"))
	if err != nil {
		return ""
	}
	n, err := strconv.Atoi(parts[1])
	lines := strings.Split(string(b), "\n")
	if err != nil || n < 1 || n > len(lines) {
		return ""
	}
	line := lines[n-1]
	if i := strings.Index(line, " //"); i >= 0 {
		line = line[:i]
	}
	return strings.Join(strings.Fields(line), " ")
}

// valueAt returns the literal the user wrote at pos ("file:line:col",
// relative to root): a quoted string, a number or a word; after a field's
// label, the value that follows it.
func (s sources) valueAt(pos, root string) string {
	parts := strings.Split(pos, ":")
	if len(parts) != 3 {
		return ""
	}
	file := parts[0]
	if !filepath.IsAbs(file) {
		file = filepath.Join(root, filepath.FromSlash(file))
	}
	b, ok := s[file]
	if !ok {
		b, _ = os.ReadFile(file)
		s[file] = b
	}
	line, err1 := strconv.Atoi(parts[1])
	col, err2 := strconv.Atoi(parts[2])
	lines := strings.Split(string(b), "\n")
	if err1 != nil || err2 != nil || line < 1 || line > len(lines) || col < 1 || col > len(lines[line-1])+1 {
		return ""
	}
	rest := lines[line-1][col-1:]
	if m := labelRE.FindString(rest); m != "" {
		rest = strings.TrimSpace(rest[len(m):])
	}
	if m := literalRE.FindString(rest); m != "" {
		return m
	}
	return ""
}

// literalRE matches a scalar literal at the start of a string.
var literalRE = regexp.MustCompile(`^("(?:[^"\\\n]|\\.)*"|-?[0-9][0-9A-Za-z._+-]*|true|false|null)`)

// isSchemaPos reports whether a position lies in distgen's own files (the
// embedded schemas, the module file, the files that put the schemas in
// force) rather than in the user's.
func isSchemaPos(p string) bool {
	file, _, _ := strings.Cut(p, ":")
	return strings.HasPrefix(p, "schemas/") || strings.HasPrefix(p, "cue.mod/") || filepath.Base(file) == enforcedFile
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
