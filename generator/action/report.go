package action

import (
	"context"
	"fmt"
	"strings"
)

// Report writes a release report an operator reads, in Markdown, from a
// build output directory: the bundle artifact, every component with its
// namespace, chart version, upstream charts, chart digest and images, the
// images the release pulls, and, with Since, what changed since another
// build of it (as Diff finds it).
type Report struct {
	// Release is a build output directory; Since, when set, another one.
	Release, Since string
}

// Run writes the report.
func (r *Report) Run() (string, error) {
	rel, err := readRelease(r.Release)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s\n\n", rel.Bundle, rel.Version)
	fmt.Fprintf(&b, "Released %s. Bundle artifact `%s:%s@%s`: %d components, %d images.\n\n",
		rel.ReleaseDate, rel.Artifact.Repository, rel.Artifact.Tag, rel.Artifact.Digest, len(rel.Components), len(rel.Images))
	if r.Since != "" {
		d, err := (&Diff{Old: r.Since, New: r.Release, NoObjects: true}).Run(context.Background())
		if err != nil {
			return "", err
		}
		b.WriteString("## Changed since the previous build\n\n")
		if d.Bundle.From != d.Bundle.To {
			fmt.Fprintf(&b, "Bundle `%s` → `%s`.\n\n", d.Bundle.From, d.Bundle.To)
		}
		for _, c := range d.Components {
			var what []string
			for _, f := range c.Fields {
				what = append(what, f.Describe(func(s string) string { return "`" + s + "`" }, "→"))
			}
			for _, v := range c.Values {
				what = append(what, "values `"+v.Path+"`")
			}
			for _, i := range c.Images.Added {
				what = append(what, "image `"+i+"` added")
			}
			for _, i := range c.Images.Removed {
				what = append(what, "image `"+i+"` removed")
			}
			fmt.Fprintf(&b, "- [%s](#%s) %s: %s\n", c.Name, anchor(c.Name), c.Status, strings.Join(what, "; "))
		}
		for _, i := range d.Images.Added {
			fmt.Fprintf(&b, "- image `%s` added\n", i)
		}
		for _, i := range d.Images.Removed {
			fmt.Fprintf(&b, "- image `%s` removed\n", i)
		}
		for _, n := range d.Namespaces.Added {
			fmt.Fprintf(&b, "- namespace `%s` added\n", n)
		}
		for _, n := range d.Namespaces.Removed {
			fmt.Fprintf(&b, "- namespace `%s` removed\n", n)
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
	return b.String(), nil
}

// anchor is a component's link target in the report.
func anchor(component string) string { return "component-" + component }
