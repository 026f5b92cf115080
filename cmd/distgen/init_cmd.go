package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newInit(s streams) *cobra.Command {
	var out outputFormat
	a := &action.Init{}
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Start a distribution of your own: a project that vets and builds as written",
		Long: `Init writes a new project into DIR (default: the current directory), which
must be empty or missing: its CUE module (--module), a copy of distgen's
schemas (so the plain cue CLI reads the project too), versions.cue, a
platform bundle (--name, default DIR's name) of three components over a
sample chart (one depending on another, one privileged), a tenant bundle
over a sample app, a .gitignore and a README with the next commands.

distgen vet and distgen build pass right after, and so do cue vet and
cue fmt --check.`,
		Example: `  distgen init platform --module example.com/platform
  cd platform && distgen vet && distgen build`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Dir = "."
			if len(args) == 1 {
				a.Dir = args[0]
			}
			res, err := a.Run()
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				fmt.Fprintf(s.Out, "wrote %d files into %s (module %s, bundle %s)\n", len(res.Files), res.Dir, res.Module, res.Bundle)
				for _, f := range res.Files {
					fmt.Fprintf(s.Out, "  %s\n", f)
				}
				fmt.Fprintf(s.Out, "next: cd %s && distgen vet && distgen build\n", a.Dir)
			})
		},
	}
	cmd.Flags().StringVar(&a.Module, "module", "", "the project's CUE module path (default example.com/NAME)")
	cmd.Flags().StringVar(&a.Name, "name", "", "the platform bundle's name (default: the directory's name)")
	addOutputFlag(cmd, &out)
	return cmd
}
