package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newReport(s streams) *cobra.Command {
	a := &action.Report{}
	cmd := &cobra.Command{
		Use:   "report BUILD",
		Short: "A release report in Markdown: components, versions, digests, images, changes",
		Long: `Report writes a Markdown report of a build (its output directory) for the
operators who install it: the bundle artifact; every component with its
namespace, chart version, upstream charts, chart digest, dependencies (linked)
and images; and the images the release pulls. With --since another build of
the release, it opens with what changed, as distgen diff finds it.`,
		Example: `  distgen report dist/demo > RELEASE.md
  distgen report dist/demo --since /tmp/previous-build`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Release = args[0]
			md, err := a.Run()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.Out, md)
			return err
		},
	}
	cmd.Flags().StringVar(&a.Since, "since", "", "another build of the release to report the changes since")
	return cmd
}
