package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newPromote(s streams, g *globals) *cobra.Command {
	var out outputFormat
	a := &action.Promote{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "promote",
		Short: "Copy a tested release to another registry by digest, and tag it",
		Long: `Promote copies a release from one registry to another without rebuilding
it: the bundle, every chart it pins, the images and the signatures, by
digest, skipping what the target already holds. With --tag the bundle is
tagged there too, so a candidate (1.2.0-rc.1) is promoted as 1.2.0 with the
same bytes: the same digest, charts and signatures that were tested. The
bundle's annotations keep the version it was built as. A --tag that already
points at other content is refused before anything is copied (--force moves
it).`,
		Example: `  distgen promote --from oci://staging.example.com/platform/bundles/demo:1.2.0-rc.1 \
    --to oci://registry.example.com/platform --tag 1.2.0
  distgen bootstrap --from oci://registry.example.com/platform/bundles/demo:1.2.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Bundle = g.Bundle
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				printArtifacts(s, res.Artifacts, res.Bytes, a.To)
				if res.Tagged != nil {
					fmt.Fprintf(s.Out, "%s@%s\n", res.Tagged.Ref, res.Tagged.Digest)
				}
			})
		},
	}
	cmd.Flags().StringVar(&a.From, "from", "", "oci://HOST/PREFIX/bundles/NAME:VERSION, oci-layout:DIR or FILE.tar (required)")
	cmd.Flags().StringVar(&a.To, "to", "", "oci://HOST/PREFIX (required)")
	cmd.Flags().StringVar(&a.Tag, "tag", "", "also tag the bundle so in the target (the same digest)")
	cmd.Flags().BoolVar(&a.Force, "force", false, "let --tag move from other content")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	cmd.Flags().IntVar(&a.Jobs, "jobs", 4, "artifacts copied at once")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	addOutputFlag(cmd, &out)
	return cmd
}
