package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newOutdated(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var exitCode bool
	a := &action.Outdated{}
	cmd := &cobra.Command{
		Use:   "outdated",
		Short: "Find the upstream charts whose repository offers a newer version",
		Long: `Outdated asks each upstream chart's repository which versions it offers (the
tags of an OCI repository, the index.yaml of an HTTPS one, with TLS
verified) and reports the newest by SemVer against the pinned one.
Pre-releases count only with --pre. A repository that cannot be reached is
reported for its charts, and the others are still asked; that alone does not
fail the command. With --exit-code it exits 1 when a chart is behind, and 2
when one could not be checked.`,
		Example: `  distgen outdated
  distgen outdated -o json --pre
  distgen outdated --exit-code   # in CI: fail when an upstream chart is behind`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Dir = g.Dir
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			if err := out.print(s.Out, res, func() {
				for _, c := range res {
					switch {
					case c.Error != "":
						fmt.Fprintf(s.Out, "%-24s %-12s ?            %s\n", c.Name, c.Pinned, c.Error)
					case c.Outdated:
						fmt.Fprintf(s.Out, "%-24s %-12s -> %-12s %s\n", c.Name, c.Pinned, c.Latest, c.Repository)
					default:
						fmt.Fprintf(s.Out, "%-24s %-12s up to date   %s\n", c.Name, c.Pinned, c.Repository)
					}
				}
			}); err != nil {
				return err
			}
			if exitCode {
				var behind []action.OutdatedChart
				for _, c := range res {
					if c.Outdated {
						behind = append(behind, c)
					}
				}
				if len(behind) > 0 {
					return &action.OutdatedError{Charts: behind}
				}
				// A chart that could not be checked is not up to date as
				// far as CI knows: exit 2, after the others were reported.
				var unchecked []string
				for _, c := range res {
					if c.Error != "" {
						unchecked = append(unchecked, c.Name+" "+c.Pinned)
					}
				}
				if len(unchecked) > 0 {
					return fmt.Errorf("%d upstream charts could not be checked: %s", len(unchecked), strings.Join(unchecked, ", "))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&a.Pre, "pre", false, "count pre-release versions")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when an upstream chart is behind")
	addOutputFlag(cmd, &out)
	return cmd
}
