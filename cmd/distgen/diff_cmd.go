package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newDiff(s streams) *cobra.Command {
	var out outputFormat
	var exitCode bool
	a := &action.Diff{}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "What changed between two builds of a release",
		Long: `Diff compares two build output directories (distgen build --out): the
components added, removed and changed (chart version and digest, upstream
versions, namespace, release name, dependencies), each HelmRelease's values
as the paths that changed, the images the release pulls and its namespaces.
With --exit-code it exits 1 when they differ.`,
		Example: `  distgen build --bundle demo --out /tmp/before
  distgen bump log-shipper --chart 0.1.1 && distgen build --bundle demo
  distgen diff /tmp/before dist/demo
  distgen diff /tmp/before dist/demo -o json --exit-code`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Old, a.New = args[0], args[1]
			res, err := a.Run()
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
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the builds differ")
	addOutputFlag(cmd, &out)
	return cmd
}

// printDiff writes a diff for people: + added, - removed, ~ changed.
func printDiff(w io.Writer, d *action.DiffResult) {
	if d.Bundle.From != d.Bundle.To {
		fmt.Fprintf(w, "bundle %s -> %s\n", d.Bundle.From, d.Bundle.To)
	}
	show := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
	mark := map[string]string{"added": "+", "removed": "-", "changed": "~"}
	for _, c := range d.Components {
		fmt.Fprintf(w, "%s %s\n", mark[c.Status], c.Name)
		for _, f := range c.Fields {
			fmt.Fprintf(w, "    %s\n", f.Describe(func(s string) string { return s }, "->"))
		}
		for _, v := range c.Values {
			switch {
			case v.From == nil:
				fmt.Fprintf(w, "    values.%s: + %s\n", v.Path, show(v.To))
			case v.To == nil:
				fmt.Fprintf(w, "    values.%s: - %s\n", v.Path, show(v.From))
			default:
				fmt.Fprintf(w, "    values.%s: %s -> %s\n", v.Path, show(v.From), show(v.To))
			}
		}
		printSet(w, "    ", "image", c.Images)
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
