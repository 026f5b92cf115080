package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strings"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/render/chart"
)

// Report formats.
const (
	ReportMarkdown = "markdown"
	ReportHTML     = "html"
)

// Report writes a release report an operator reads: the bundle artifact,
// every component with its namespace, chart version, upstream charts,
// chart digest, dependencies and images, the images the release pulls,
// and, with Since, what changed since another release (as Diff finds it).
// In Markdown, or as one self-contained HTML page that also draws the
// dependency graph (SVG, through Graphviz's dot where it is installed).
type Report struct {
	// Release names the release as Diff's sides do: a build output
	// directory or its release.json, a project directory, or a pushed
	// release (oci://…, oci-layout:DIR, FILE.tar). Since, when set, names
	// another.
	Release, Since string
	// Bundle, PlainHTTP and Cache are as for Diff.
	Bundle    string
	PlainHTTP bool
	Cache     *chart.Cache
	// Format is ReportMarkdown (the default) or ReportHTML.
	Format string
}

// Run writes the report.
func (r *Report) Run(ctx context.Context) (string, error) {
	if r.Format != "" && r.Format != ReportMarkdown && r.Format != ReportHTML {
		return "", &UsageError{Msg: fmt.Sprintf("unknown report format %q (markdown or html)", r.Format)}
	}
	// The release is opened once (a project is built once), for the
	// report and, with Since, as the new side of the diff.
	d := &Diff{Bundle: r.Bundle, PlainHTTP: r.PlainHTTP, Cache: r.Cache, NoObjects: true}
	src, err := d.side(ctx, r.Release)
	if err != nil {
		return "", err
	}
	defer src.close()
	var changes *DiffResult
	if r.Since != "" {
		old, err := d.side(ctx, r.Since)
		if err != nil {
			return "", err
		}
		defer old.close()
		if changes, err = d.compare(ctx, old, src); err != nil {
			return "", err
		}
	}
	if r.Format == ReportHTML {
		return reportHTML(ctx, src.rel, changes)
	}
	return reportMarkdown(src.rel, changes), nil
}

// changeLine is one line of "changed since": a component (linked to its
// row) and what changed in it, or a change of the whole release.
type changeLine struct {
	Component, Status string
	What              []string
}

// changeLines says what changed, each value passed through quote and
// changes joined with arrow.
func changeLines(d *DiffResult, quote func(string) string, arrow string) []changeLine {
	var out []changeLine
	for _, c := range d.Components {
		var what []string
		for _, f := range c.Fields {
			what = append(what, f.Describe(quote, arrow))
		}
		for _, v := range c.Values {
			what = append(what, "values "+quote(v.Path))
		}
		for _, i := range c.Images.Added {
			what = append(what, "image "+quote(i)+" added")
		}
		for _, i := range c.Images.Removed {
			what = append(what, "image "+quote(i)+" removed")
		}
		out = append(out, changeLine{Component: c.Name, Status: c.Status, What: what})
	}
	for _, set := range []struct {
		what string
		d    SetDiff
	}{{"image", d.Images}, {"namespace", d.Namespaces}} {
		for _, x := range set.d.Added {
			out = append(out, changeLine{What: []string{set.what + " " + quote(x) + " added"}})
		}
		for _, x := range set.d.Removed {
			out = append(out, changeLine{What: []string{set.what + " " + quote(x) + " removed"}})
		}
	}
	return out
}

// reportMarkdown is the report in Markdown.
func reportMarkdown(rel *api.Release, d *DiffResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s\n\n", rel.Bundle, rel.Version)
	fmt.Fprintf(&b, "Released %s. Bundle artifact `%s:%s@%s`: %d components, %d images.\n\n",
		rel.ReleaseDate, rel.Artifact.Repository, rel.Artifact.Tag, rel.Artifact.Digest, len(rel.Components), len(rel.Images))
	if d != nil {
		b.WriteString("## Changed since the previous build\n\n")
		if d.Bundle.From != d.Bundle.To {
			fmt.Fprintf(&b, "Bundle `%s` → `%s`.\n\n", d.Bundle.From, d.Bundle.To)
		}
		code := func(s string) string { return "`" + s + "`" }
		for _, l := range changeLines(d, code, "→") {
			if l.Component == "" {
				fmt.Fprintf(&b, "- %s\n", strings.Join(l.What, "; "))
				continue
			}
			fmt.Fprintf(&b, "- [%s](#%s) %s: %s\n", l.Component, anchor(l.Component), l.Status, strings.Join(l.What, "; "))
		}
		if !d.Changed() {
			b.WriteString("Nothing changed.\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## Components\n\n| component | namespace | chart | upstream | chart digest | depends on | images |\n|---|---|---|---|---|---|---|\n")
	for _, c := range rel.Components {
		var ups []string
		for _, u := range c.Upstream {
			ups = append(ups, u.Name+" "+u.Version)
		}
		var deps []string
		for _, d := range c.DependsOn {
			deps = append(deps, fmt.Sprintf("[%s](#%s)", d, anchor(d)))
		}
		var imgs []string
		for _, i := range c.Images {
			imgs = append(imgs, "`"+i+"`")
		}
		fmt.Fprintf(&b, "| <a id=\"%s\"></a>%s | %s | %s | %s | `%s` | %s | %s |\n", anchor(c.Name), c.Name, c.Namespace, c.Chart.Tag,
			strings.Join(ups, ", "), c.Chart.Digest, strings.Join(deps, ", "), strings.Join(imgs, "<br>"))
	}
	if len(rel.Images) > 0 {
		b.WriteString("\n## Images\n\n")
		for _, i := range rel.Images {
			fmt.Fprintf(&b, "- `%s`\n", i)
		}
	}
	return b.String()
}

// anchor is a component's link target in the report.
func anchor(component string) string { return "component-" + component }

// releaseDOT is a release's dependency graph, each component linking to
// its row of the report.
func releaseDOT(rel *api.Release) []byte {
	var clusters []dotCluster
	var edges [][2]string
	for _, c := range rel.Components {
		i := slices.IndexFunc(clusters, func(k dotCluster) bool { return k.name == c.Namespace })
		if i < 0 {
			clusters = append(clusters, dotCluster{name: c.Namespace})
			i = len(clusters) - 1
		}
		clusters[i].nodes = append(clusters[i].nodes, c.Name)
		for _, d := range c.DependsOn {
			edges = append(edges, [2]string{d, c.Name})
		}
	}
	return writeDOT(rel.Bundle, clusters, edges, func(n string) string { return "#" + anchor(n) })
}

// reportHTML is the report as one HTML page with no outside references.
func reportHTML(ctx context.Context, rel *api.Release, d *DiffResult) (string, error) {
	data := struct {
		Rel     *api.Release
		Diff    *DiffResult
		Changes []changeLine
		Graph   template.HTML
		NoGraph string
	}{Rel: rel, Diff: d}
	if d != nil {
		data.Changes = changeLines(d, func(s string) string { return s }, "→")
	}
	svg, err := SVG(ctx, releaseDOT(rel))
	switch {
	case errors.Is(err, ErrNoGraphviz):
		data.NoGraph = "Graphviz's dot was not found where the report was written, so the graph is left out."
	case err != nil:
		return "", err
	default:
		// dot's own prolog (XML declaration, DOCTYPE) has no place inside
		// HTML; the <svg> element is inlined as dot wrote it.
		if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
			svg = svg[i:]
		}
		data.Graph = template.HTML(svg)
	}
	var b strings.Builder
	if err := reportPage.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{"anchor": anchor}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Rel.Bundle}} {{.Rel.Version}}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
code { font-size: 0.9em; }
tr:target { background: #fff3bf; }
#graph svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>{{.Rel.Bundle}} {{.Rel.Version}}</h1>
<p>Released {{.Rel.ReleaseDate}}. Bundle artifact <code>{{.Rel.Artifact.Repository}}:{{.Rel.Artifact.Tag}}@{{.Rel.Artifact.Digest}}</code>: {{len .Rel.Components}} components, {{len .Rel.Images}} images.</p>
{{- if .Diff}}
<h2>Changed since the previous build</h2>
{{- if ne .Diff.Bundle.From .Diff.Bundle.To}}
<p>Bundle <code>{{.Diff.Bundle.From}}</code> → <code>{{.Diff.Bundle.To}}</code>.</p>
{{- end}}
<ul id="changes">
{{- range .Changes}}
<li>{{if .Component}}<a href="#{{anchor .Component}}">{{.Component}}</a> {{.Status}}: {{end}}{{range $i, $w := .What}}{{if $i}}; {{end}}{{$w}}{{end}}</li>
{{- else}}
<li>Nothing changed.</li>
{{- end}}
</ul>
{{- end}}
<h2>Dependency graph</h2>
<div id="graph">{{if .Graph}}{{.Graph}}{{else}}<p>{{.NoGraph}}</p>{{end}}</div>
<h2>Components</h2>
<table id="components">
<tr><th>component</th><th>namespace</th><th>chart</th><th>upstream</th><th>chart digest</th><th>depends on</th><th>images</th></tr>
{{- range .Rel.Components}}
<tr id="{{anchor .Name}}"><td>{{.Name}}</td><td>{{.Namespace}}</td><td>{{.Chart.Tag}}</td><td>{{range $i, $u := .Upstream}}{{if $i}}, {{end}}{{$u.Name}} {{$u.Version}}{{end}}</td><td><code>{{.Chart.Digest}}</code></td><td>{{range $i, $d := .DependsOn}}{{if $i}}, {{end}}<a href="#{{anchor $d}}">{{$d}}</a>{{end}}</td><td>{{range $i, $m := .Images}}{{if $i}}<br>{{end}}<code>{{$m}}</code>{{end}}</td></tr>
{{- end}}
</table>
{{- if .Rel.Images}}
<h2>Images</h2>
<ul id="images">
{{- range .Rel.Images}}
<li><code>{{.}}</code></li>
{{- end}}
</ul>
{{- end}}
</body>
</html>
`))
