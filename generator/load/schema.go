package load

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"cuelang.org/go/cue"
	cutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/chartdir"
	"github.com/distgen/distgen/generator/plan"
)

// ValuesSchemaFile is the JSON schema a chart may type its values with;
// Helm checks it at install.
const ValuesSchemaFile = "values.schema.json"

// schemaFailure is one line of Helm's schema validation error: "- at
// '/json/pointer': message".
var schemaFailure = regexp.MustCompile(`^- at '([^']*)': (.*)$`)

// checkSchemaValues checks a component's final values (the chart's
// defaults, its valuesFiles, its values) against the values.schema.json of
// its first-party chart and of the chart's subcharts, as Helm will at
// install, and reports each failure at the value's file:line:col in the
// bundle; a failure of a value the bundle does not set is reported at the
// component.
func checkSchemaValues(c *api.Component, cv cue.Value, root string) Errors {
	if c.Chart.Path == "" {
		return nil
	}
	dir := filepath.Join(root, filepath.FromSlash(c.Chart.Path))
	if !hasValuesSchema(dir) {
		return nil
	}
	files, err := chartdir.Read(dir, c.Chart.Path, chartdir.DefaultLimits)
	if err != nil {
		return Errors{{Pos: c.Pos, Component: c.Name, Msg: err.Error()}}
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return Errors{{Pos: c.Pos, Component: c.Name, Msg: fmt.Sprintf("chart %s: %v", c.Chart.Path, err)}}
	}
	vals := map[string]any{}
	for _, fv := range c.FileValues {
		vals = plan.Merge(vals, fv)
	}
	vals = plan.Merge(vals, c.Values)
	coalesced, err := cutil.CoalesceValues(ch, vals)
	if err != nil {
		return Errors{{Pos: c.Pos, Component: c.Name, Msg: "values: " + err.Error()}}
	}
	err = cutil.ValidateAgainstSchema(ch, coalesced)
	if err == nil {
		return nil
	}
	var errs Errors
	chartName := ch.Name()
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if name, ok := strings.CutSuffix(line, ":"); ok && !strings.HasPrefix(line, "-") {
			chartName = name
			continue
		}
		m := schemaFailure.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		path := []string{}
		if chartName != ch.Name() {
			path = append(path, chartName)
		}
		for _, p := range strings.Split(strings.TrimPrefix(m[1], "/"), "/") {
			if p != "" {
				path = append(path, strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~"))
			}
		}
		shown := "values"
		if len(path) > 0 {
			shown += "." + strings.Join(path, ".")
		}
		e := &Error{Pos: c.Pos, Component: c.Name,
			Msg: fmt.Sprintf("%s: %s (typed by %s/%s%s)", shown, m[2], c.Chart.Path, subchartDir(chartName, ch.Name()), ValuesSchemaFile)}
		sels := []cue.Selector{cue.Str("values")}
		for _, p := range path {
			sels = append(sels, cue.Str(p))
		}
		if v := cv.LookupPath(cue.MakePath(sels...)); v.Exists() {
			if p := userPos(v, root); p != "" {
				e.Pos = p
			}
		} else {
			e.Msg += "; the bundle does not set it: the chart's values.yaml or a valuesFile does"
		}
		errs = append(errs, e)
	}
	if len(errs) == 0 {
		errs = Errors{{Pos: c.Pos, Component: c.Name, Msg: "values: " + err.Error()}}
	}
	return errs
}

// hasValuesSchema reports whether the chart at dir or a subchart under its
// charts/ may have a values schema, without loading it.
func hasValuesSchema(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, ValuesSchemaFile)); err == nil {
		return true
	}
	for _, pattern := range []string{"charts/*/" + ValuesSchemaFile, "charts/*.tgz"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pattern)); len(m) > 0 {
			return true
		}
	}
	return false
}

func subchartDir(name, top string) string {
	if name == top {
		return ""
	}
	return "charts/" + name + "/"
}
