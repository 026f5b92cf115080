package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/render/chart"
)

func newDiff(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var exitCode, noCache bool
	a := &action.Diff{}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "What changed between two releases",
		Long: `Diff compares two releases: the components added, removed and changed
(chart version and digest, upstream versions, namespace, release name,
dependencies), each HelmRelease's values as the paths that changed, the
objects each changed component's chart renders with them (what Flux would
apply, field by field; the values of Secrets' data are masked), the images
the release pulls and its namespaces. With --exit-code it exits 1 when they
differ.

Each side is one of:
  a build output directory (distgen build --out), or its release.json
  a project directory (with cue.mod), built first with the build cache
  oci://HOST/PREFIX/bundles/NAME:VERSION, a pushed release
  oci-layout:DIR or FILE.tar, a layout or mirror archive (--bundle
  NAME:VERSION when it holds several)

Only the charts of changed components are rendered.`,
		Example: `  distgen build --bundle demo --out /tmp/before
  distgen bump log-shipper --chart 0.1.1 && distgen build --bundle demo
  distgen diff /tmp/before dist/demo
  distgen diff /tmp/before dist/demo -o json --exit-code
  # what the project would change against what the registry holds
  distgen diff oci://registry.example.com/platform/bundles/demo:0.1.0 . --bundle demo`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Old, a.New = args[0], args[1]
			a.Bundle = g.Bundle
			var err error
			if a.Cache, err = buildCache(noCache); err != nil {
				return err
			}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			if err := out.print(s.Out, res, func() { printDiff(s.Out, res) }); err != nil {
				return err
			}
			if exitCode && res.Changed() {
				return &action.UsageError{Msg: fmt.Sprintf("%s and %s differ", a.Old, a.New)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the releases differ")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "reach loopback registries over HTTP")
	cmd.Flags().BoolVar(&a.NoObjects, "no-objects", false, "leave out the rendered objects (render no chart)")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "build a project side without the build cache")
	cmd.Flags().StringVar(&a.KubeVersion, "kube-version", "", "Kubernetes version charts are rendered for (default "+chart.DefaultKubeVersion+")")
	addOutputFlag(cmd, &out)
	return cmd
}

// printDiff writes a diff for people: + added, - removed, ~ changed.
func printDiff(w io.Writer, d *action.DiffResult) {
	if d.Bundle.From != d.Bundle.To {
		fmt.Fprintf(w, "bundle %s -> %s\n", d.Bundle.From, d.Bundle.To)
	}
	mark := map[string]string{"added": "+", "removed": "-", "changed": "~"}
	for _, c := range d.Components {
		fmt.Fprintf(w, "%s %s\n", mark[c.Status], c.Name)
		for _, f := range c.Fields {
			fmt.Fprintf(w, "    %s\n", f.Describe(func(s string) string { return s }, "->"))
		}
		for _, v := range c.Values {
			v.Path = "values." + v.Path
			fmt.Fprintf(w, "    %s\n", v.Describe())
		}
		printSet(w, "    ", "image", c.Images)
		for _, o := range c.Objects {
			fmt.Fprintf(w, "    %s %s\n", mark[o.Status], o.ID())
			for _, f := range o.Fields {
				fmt.Fprintf(w, "        %s\n", f.Describe())
			}
		}
	}
	printSet(w, "", "image", d.Images)
	printSet(w, "", "namespace", d.Namespaces)
	if !d.Changed() {
		fmt.Fprintln(w, "no changes")
	}
}

// printSet writes a line per item a set gained (+) and lost (-).
func printSet(w io.Writer, indent, what string, d action.SetDiff) {
	for _, x := range d.Added {
		fmt.Fprintf(w, "%s+ %s %s\n", indent, what, x)
	}
	for _, x := range d.Removed {
		fmt.Fprintf(w, "%s- %s %s\n", indent, what, x)
	}
}
