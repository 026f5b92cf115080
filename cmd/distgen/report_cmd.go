package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newReport(s streams, g *globals) *cobra.Command {
	a := &action.Report{}
	var noCache bool
	cmd := &cobra.Command{
		Use:   "report RELEASE",
		Short: "A release report in Markdown or HTML: components, versions, digests, images, changes, the graph",
		Long: `Report writes a report of a release for the operators who install it: the
bundle artifact; every component with its namespace, chart version, upstream
charts, chart digest, dependencies (linked) and images; and the images the
release pulls. With --since another release, it opens with what changed, as
distgen diff finds it.

RELEASE and --since name a release as distgen diff's sides do: a build output
directory or its release.json, a project directory, oci://HOST/PREFIX/bundles/
NAME:VERSION, oci-layout:DIR or FILE.tar.

--format html writes one self-contained page that also draws the dependency
graph (SVG, through Graphviz's dot where it is installed; each component
links to its row).`,
		Example: `  distgen report dist/demo > RELEASE.md
  distgen report dist/demo --since /tmp/previous-build
  distgen report oci://registry.example.com/platform/bundles/demo:0.2.0 \
    --since oci://registry.example.com/platform/bundles/demo:0.1.0 --format html > release.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Release = args[0]
			a.Bundle = g.Bundle
			var err error
			if a.Cache, err = buildCache(noCache); err != nil {
				return err
			}
			out, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.Out, out)
			return err
		},
	}
	cmd.Flags().StringVar(&a.Since, "since", "", "another release to report the changes since")
	cmd.Flags().StringVar(&a.Format, "format", action.ReportMarkdown, "markdown or html")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "reach loopback registries over HTTP")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "build a project without the build cache")
	return cmd
}
