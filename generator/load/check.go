package load

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/chartdir"
	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/internal/buildid"
)

// valuesFile is a values file read, to be parsed (parseValues) into the
// component's FileValues at index.
type valuesFile struct {
	c     *api.Component
	index int
	shown string
	data  []byte
}

// dirCheck is a chart directory to check (checkDirs), for the component
// that first uses it.
type dirCheck struct {
	c         *api.Component
	dir, path string
}

// resolveChart checks a component's chart source, resolves its directory and
// reads its values files, which it returns to be parsed, with the chart
// directory to be checked (nil when another component's check covers it).
//
// The files of a chart directory are checked once (checked holds the
// directories done), so a problem in a chart that several components share
// is reported once, at the first of them.
func resolveChart(c *api.Component, root string, checked map[string]bool) ([]valuesFile, *dirCheck, Errors) {
	fail := func(format string, args ...any) Errors {
		return Errors{{Pos: c.Pos, Component: c.Name, Msg: fmt.Sprintf(format, args...)}}
	}
	var files []valuesFile
	src := c.Chart
	switch {
	case src.Path != "" && len(src.Upstream) > 0:
		return nil, nil, fail("chart sets both path and upstream; set one")
	case src.Path == "" && len(src.Upstream) == 0:
		return nil, nil, fail("chart sets neither path nor upstream; set one")
	case len(src.Upstream) > 0:
		if len(c.ValuesFiles) > 1 || (len(c.ValuesFiles) == 1 && c.ValuesFiles[0] != "values.yaml") {
			return nil, nil, fail("valuesFiles need a chart directory; a wrapped upstream chart takes its values from the bundle")
		}
		c.ValuesFiles = nil
		seen := map[string]bool{}
		for _, u := range src.Upstream {
			if seen[u.DependencyName()] {
				return nil, nil, fail("upstream chart %q appears twice; give one an alias", u.DependencyName())
			}
			seen[u.DependencyName()] = true
		}
		return nil, nil, nil
	}
	dir := filepath.Join(root, filepath.FromSlash(src.Path))
	if rel, err := filepath.Rel(filepath.Join(root, "packages"), dir); err != nil || strings.HasPrefix(rel, "..") {
		return nil, nil, fail("chart path %q leaves packages/", src.Path)
	}
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return nil, nil, fail("chart directory %s: no Chart.yaml (missing chart directory?)", src.Path)
	}
	real, err := chartdir.Resolve(root, dir)
	if err != nil {
		return nil, nil, fail("chart directory %s: %v", src.Path, err)
	}
	c.ChartDir = real
	var errs Errors
	var check *dirCheck
	if !checked[real] {
		checked[real] = true
		check = &dirCheck{c: c, dir: real, path: src.Path}
	}
	for _, f := range c.ValuesFiles {
		shown := filepath.ToSlash(filepath.Join(src.Path, f))
		data, err := chartdir.ReadFile(real, f, chartdir.DefaultLimits.File)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && f == "values.yaml" {
				c.FileValues = append(c.FileValues, map[string]any{})
				continue
			}
			errs = append(errs, fail("values file %s: %v", shown, err)...)
			continue
		}
		files = append(files, valuesFile{c: c, index: len(c.FileValues), shown: shown, data: data})
		c.FileValues = append(c.FileValues, nil)
	}
	return files, check, errs
}

// checkDirs checks chart directories (walking them is much of a large
// project's load), several at once, and returns each one's problems, by
// position in checks.
func checkDirs(checks []*dirCheck) []Errors {
	errs := make([]Errors, len(checks))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, ck := range checks {
		g.Go(func() error {
			if err := chartdir.Check(ck.dir, ck.path, chartdir.DefaultLimits); err != nil {
				for _, e := range unjoin(err) {
					errs[i] = append(errs[i], &Error{Pos: ck.c.Pos, Component: ck.c.Name, Msg: e.Error()})
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return errs
}

// parseValues parses values files as Helm does, several at once (parsing
// YAML is most of a project's load), and puts each into its component's
// FileValues. With a cache directory, a file parsed before is decoded from
// the JSON kept there. It returns each file's problem, by position in
// files.
func parseValues(files []valuesFile, cache string) []Errors {
	errs := make([]Errors, len(files))
	var id string
	if cache != "" {
		var err error
		if id, err = buildid.ID(); err != nil {
			cache = "" // the cache costs speed only
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range files {
		g.Go(func() error {
			var path string
			if cache != "" {
				h := sha256.New()
				h.Write([]byte(id))
				h.Write([]byte{0})
				h.Write(f.data)
				sum := hex.EncodeToString(h.Sum(nil))
				path = filepath.Join(cache, sum[:2], sum+".json")
				if vals, ok := cachedValues(path); ok {
					f.c.FileValues[f.index] = vals
					return nil
				}
			}
			vals, err := loader.LoadValues(bytes.NewReader(f.data))
			if err != nil {
				errs[i] = Errors{{Pos: f.c.Pos, Component: f.c.Name, Msg: fmt.Sprintf("values file %s: %v", f.shown, err)}}
				return nil
			}
			f.c.FileValues[f.index] = vals
			if path != "" {
				// Helm's values are JSON's types (sigs.k8s.io/yaml), so
				// JSON keeps them exactly.
				if b, err := json.Marshal(vals); err == nil && os.MkdirAll(filepath.Dir(path), 0o755) == nil {
					_ = atomicfile.Write(path, b)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return errs
}

// cachedValues reads values kept at path; a missing or damaged entry is a
// miss.
func cachedValues(path string) (map[string]any, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var vals map[string]any
	if json.Unmarshal(b, &vals) != nil || vals == nil {
		return nil, false
	}
	return vals, true
}

// unjoin returns the errors joined in err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// check runs the checks that span the components of a bundle.
func check(b *api.Bundle) Errors {
	errs := checkNamespaces(b)
	byName := map[string]*api.Component{}
	for _, c := range b.Components {
		byName[c.Name] = c
	}
	releases := map[string]*api.Component{}
	for _, c := range b.Components {
		for _, d := range c.DependsOn {
			dep, ok := byName[d]
			switch {
			case d == c.Name:
				errs = append(errs, &Error{Pos: c.Pos, Component: c.Name, Msg: "depends on itself"})
			case !ok:
				errs = append(errs, &Error{Pos: c.Pos, Component: c.Name, Msg: fmt.Sprintf("dependsOn %q: no such component in bundle %q", d, b.Name)})
			case c.Enabled && !dep.Enabled:
				errs = append(errs, &Error{Pos: c.Pos, Component: c.Name, Msg: fmt.Sprintf("is enabled but depends on %q, which is disabled", d)})
			}
		}
		if !c.Enabled {
			continue
		}
		key := c.Namespace + "/" + c.ReleaseName
		if other, ok := releases[key]; ok {
			errs = append(errs, &Error{Pos: c.Pos, Component: c.Name, Msg: fmt.Sprintf("release name %q in namespace %q is taken by component %q", c.ReleaseName, c.Namespace, other.Name)})
			continue
		}
		releases[key] = c
	}
	for _, cycle := range cycles(b.Components, byName) {
		first := byName[cycle[0]]
		errs = append(errs, &Error{Pos: first.Pos, Component: first.Name, Msg: "dependency cycle: " + strings.Join(cycle, " -> ")})
	}
	return errs
}

// checkNamespaces holds the components of each namespace to what the
// bundle declares of it: a privileged component needs a namespace whose
// declared level is privileged, and in a namespace whose level is not
// declared, the components must agree on being privileged.
func checkNamespaces(b *api.Bundle) Errors {
	var errs Errors
	type members struct{ privileged, not []*api.Component }
	byNS := map[string]*members{}
	var names []string
	for _, c := range b.Components {
		if !c.Enabled {
			continue
		}
		m := byNS[c.Namespace]
		if m == nil {
			m = &members{}
			byNS[c.Namespace] = m
			names = append(names, c.Namespace)
		}
		if c.Privileged {
			m.privileged = append(m.privileged, c)
		} else {
			m.not = append(m.not, c)
		}
	}
	sort.Strings(names)
	for _, ns := range names {
		m := byNS[ns]
		spec := b.Namespaces[ns]
		for k := range spec.Labels {
			if strings.HasPrefix(k, "pod-security.kubernetes.io/") {
				errs = append(errs, &Error{Pos: BundlesDir + "/", Path: "bundles." + b.Name + ".namespaces." + ns + ".labels",
					Msg: fmt.Sprintf("label %s: set the level with podSecurity instead", k)})
			}
		}
		switch {
		case spec.PodSecurity != "" && spec.PodSecurity != api.PodSecurityPrivileged:
			for _, c := range m.privileged {
				errs = append(errs, &Error{Pos: c.Pos, Component: c.Name,
					Msg: fmt.Sprintf("is privileged, but namespace %q is declared podSecurity: %q", ns, spec.PodSecurity)})
			}
		case spec.PodSecurity == "" && len(m.privileged) > 0 && len(m.not) > 0:
			p, n := m.privileged[0], m.not[0]
			errs = append(errs, &Error{Pos: n.Pos, Component: n.Name, Msg: fmt.Sprintf(
				"shares namespace %q with component %q, which is privileged while %q is not; declare the namespace's level: namespaces: %q: podSecurity: \"privileged\" (or \"baseline\", \"restricted\")",
				ns, p.Name, n.Name, ns)})
		}
	}
	return errs
}

// cycles returns each dependency cycle once, starting at its smallest name.
func cycles(comps []*api.Component, byName map[string]*api.Component) [][]string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	seen := map[string]bool{}
	var out [][]string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		deps := append([]string(nil), byName[n].DependsOn...)
		sort.Strings(deps)
		for _, d := range deps {
			if _, ok := byName[d]; !ok || d == n {
				continue
			}
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cyc := rotate(stack[i:])
				key := strings.Join(cyc, ",")
				if !seen[key] {
					seen[key] = true
					out = append(out, append(cyc, cyc[0]))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, c := range comps {
		if color[c.Name] == white {
			visit(c.Name)
		}
	}
	return out
}

// rotate starts a cycle at its smallest member.
func rotate(cyc []string) []string {
	min := 0
	for i, n := range cyc {
		if n < cyc[min] {
			min = i
		}
	}
	return append(append([]string(nil), cyc[min:]...), cyc[:min]...)
}
