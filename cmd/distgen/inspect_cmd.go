package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newInspect(s streams, g *globals) *cobra.Command {
	var out outputFormat
	a := &action.Inspect{}
	cmd := &cobra.Command{
		Use:     "inspect REF",
		Aliases: []string{"ls"},
		Short:   "List what a pushed release (or one chart artifact) holds",
		Long: `Inspect reads a pushed release from a registry, an OCI layout or a mirror
archive, and lists the bundle artifact, every chart its Flux objects pin (with
the HelmRelease that installs it, its chart version and app version, its
digest and size), the images the charts declare, and which artifacts carry a
signature. It pulls manifests and chart metadata only. REF may also name one
chart artifact. Whether a signature is by a key you trust is distgen verify's
to say.`,
		Example: `  distgen inspect oci://registry.example.com/platform/bundles/demo:0.1.0
  distgen ls oci-layout:dist/demo-oci -o json
  distgen inspect demo-0.1.0.tar
  distgen inspect oci://registry.example.com/platform/charts/cilium:1.18.2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.From, a.Bundle = args[0], g.Bundle
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				signed := func(a action.InspectedArtifact) string {
					if a.Signed {
						return "signed"
					}
					return "unsigned"
				}
				if b := res.Bundle; b != nil {
					fmt.Fprintf(s.Out, "bundle  %s:%s@%s  %d bytes  %s\n", b.Repository, b.Tag, b.Digest, b.Size, signed(*b))
				}
				for _, c := range res.Charts {
					app := ""
					if c.Chart != nil && c.Chart.AppVersion != "" {
						app = "  app " + c.Chart.AppVersion
					}
					release := ""
					if c.Release != "" {
						release = "  " + c.Release
					}
					fmt.Fprintf(s.Out, "chart   %s:%s@%s  %d bytes%s%s  %s\n", c.Repository, c.Tag, c.Digest, c.Size, release, app, signed(c))
				}
				for _, img := range res.Images {
					fmt.Fprintf(s.Out, "image   %s\n", img)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	addOutputFlag(cmd, &out)
	return cmd
}
