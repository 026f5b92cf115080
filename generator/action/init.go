package action

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"cuelang.org/go/cue/format"

	"github.com/distgen/distgen/schemas"
)

// skeleton is the project Init writes: files ending in .tmpl are Go
// templates (the .tmpl dropped from the name); the others, charts among
// them, are copied as they are.
//
//go:embed all:skeleton
var skeleton embed.FS

// Init writes a new distribution project of the user's own into Dir: its
// CUE module, a copy of the schemas (so the plain cue CLI reads it too),
// versions.cue, a platform bundle of three components over a sample chart
// (one depending on another, one privileged), a tenant bundle over a
// sample app, a .gitignore and a README with the next commands. Dir must
// be empty or missing; the project appears whole or not at all.
type Init struct {
	Dir string
	// Module is the CUE module path (example.com/platform); empty means
	// example.com/<name>.
	Module string
	// Name is the platform bundle's name; empty means Dir's base name,
	// made a DNS label.
	Name string
	// Now dates the first release (versions.releaseDate); zero means today.
	Now time.Time
}

// Initialized is what Init wrote.
type Initialized struct {
	Dir    string   `json:"dir"`
	Module string   `json:"module"`
	Bundle string   `json:"bundle"`
	Files  []string `json:"files"`
}

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$`)
	modulePath = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.[a-z]+(/[a-zA-Z0-9._~-]+)+$`)
)

// Run writes the project.
func (in *Init) Run() (*Initialized, error) {
	dir, err := filepath.Abs(in.Dir)
	if err != nil {
		return nil, err
	}
	name := in.Name
	if name == "" {
		name = strings.Trim(regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(strings.ToLower(filepath.Base(dir)), "-"), "-")
	}
	if !dnsLabel.MatchString(name) {
		return nil, &UsageError{Msg: fmt.Sprintf("bundle name %q: %s (choose one with --name)", name, schemas.Wants["#Name"])}
	}
	module := in.Module
	if module == "" {
		module = "example.com/" + name
	}
	if !modulePath.MatchString(module) {
		return nil, &UsageError{Msg: fmt.Sprintf("module %q: want a CUE module path such as example.com/platform (a domain, then a path; no @version)", module)}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, &UsageError{Msg: fmt.Sprintf("%s is not empty: distgen init writes a new project into an empty or missing directory", dir)}
	} else if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	data := map[string]string{
		"Module":      module,
		"Name":        name,
		"Package":     cuePackage(module),
		"ReleaseDate": now.UTC().Truncate(24 * time.Hour).Format(time.RFC3339),
	}
	files := map[string][]byte{}
	err = fs.WalkDir(skeleton, "skeleton", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := skeleton.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "skeleton/")
		if strings.HasSuffix(rel, ".tmpl") {
			rel = strings.TrimSuffix(rel, ".tmpl")
			t, err := template.New(rel).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := t.Execute(&out, data); err != nil {
				return err
			}
			b = out.Bytes()
		}
		if rel == "gitignore" {
			rel = ".gitignore"
		}
		if strings.HasSuffix(rel, ".cue") {
			// The files stay as cue fmt writes them, whatever was filled in.
			if b, err = format.Source(b); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		files[rel] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(schemas.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := schemas.FS.ReadFile(p)
		files[path.Join("schemas", p)] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	native := make(map[string][]byte, len(files))
	for rel, b := range files {
		native[filepath.FromSlash(rel)] = b
	}
	if err := writeTree(dir, native, nil); err != nil {
		return nil, err
	}
	res := &Initialized{Dir: dir, Module: module, Bundle: name}
	for f := range files {
		res.Files = append(res.Files, f)
	}
	slices.Sort(res.Files)
	return res, nil
}

// cuePackage is the package name of the module's root: the last element
// of its path, made a CUE identifier.
func cuePackage(module string) string {
	p := regexp.MustCompile(`[^a-zA-Z0-9_]`).ReplaceAllString(path.Base(module), "_")
	if p == "" || (p[0] >= '0' && p[0] <= '9') {
		p = "dist_" + p
	}
	return p
}
