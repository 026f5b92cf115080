package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/versions"
)

func newBump(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var level string
	a := &action.Bump{}
	cmd := &cobra.Command{
		Use:   "bump [COMPONENT]",
		Short: "Raise a component's chart or upstream version, or the release's, in versions.cue",
		Long: `Bump edits versions.cue through CUE's syntax tree: comments and layout stay,
and the file stays as cue fmt writes it. --upstream also raises the
component's chart version, by --level (patch unless said), since the chart
distgen emits changes with it. A version lower than the pinned one is
refused without --allow-downgrade, and a version the schemas refuse puts the
file back. In a project that locks its upstream charts (versions.lock.json),
a new upstream version is fetched, verified and locked at once, as distgen
vendor would; if that fails, versions.cue is put back. --no-lock leaves it
to a later distgen vendor.`,
		Example: `  distgen bump cilium --upstream cilium=1.19.6            # and the chart 0.1.0 -> 0.1.1
  distgen bump cilium --upstream cilium=1.20.0 --level minor
  distgen bump platform-crds --chart 0.2.0
  distgen bump --release 0.2.0`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Dir = g.Dir
			if len(args) == 1 {
				a.Component = args[0]
			}
			a.Level = versions.Level(level)
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				for _, c := range res.Changes {
					fmt.Fprintf(s.Out, "%s: %s %s -> %s\n", c.Pos, c.Path, c.From, c.To)
				}
				if len(res.Changes) == 0 {
					fmt.Fprintln(s.Err, "nothing to change")
				}
				for _, l := range res.Locked {
					fmt.Fprintf(s.Out, "locked %s %s %s\n", l.Chart.Name, l.Chart.Version, l.Digest)
				}
				for _, h := range res.Hints {
					fmt.Fprintf(s.Err, "note: %s\n", h)
				}
			})
		},
	}
	cmd.Flags().StringVar(&a.Chart, "chart", "", "the component's new chart version")
	cmd.Flags().StringVar(&a.Upstream, "upstream", "", "NAME=VERSION: an upstream chart the component wraps")
	cmd.Flags().StringVar(&level, "level", string(versions.Patch), "with --upstream alone, how the chart version rises: patch, minor or major")
	cmd.Flags().StringVar(&a.Release, "release", "", "the distribution's new version")
	cmd.Flags().BoolVar(&a.AllowDowngrade, "allow-downgrade", false, "let a version go down")
	cmd.Flags().BoolVar(&a.NoLock, "no-lock", false, "do not fetch and lock a new upstream version now")
	addOutputFlag(cmd, &out)
	return cmd
}
