package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newSchema(s streams) *cobra.Command {
	a := &action.Schema{}
	pub := &action.PublishSchemas{}
	cmd := &cobra.Command{
		Use:   "schema [#DEFINITION...]",
		Short: "Print the schemas distgen checks projects against, with their comments",
		Long: `Schema prints the CUE schemas built into distgen, the ones in force whatever
a project's schemas/ directory holds: all of them, or the definitions named
(#Bundle, #Component, #Versions, #TenantBundle, #Tenant, …), each as written,
with its comments.

--json-schema exports one definition (default #Bundle) as JSON Schema (draft
2020-12), through CUE's own encoder, for editors and language servers.

--publish oci://HOST/PREFIX --module-version v0.X.Y publishes the schemas as
the CUE module github.com/distgen/distgen, the way CUE modules are published:
with CUE_REGISTRY=HOST/PREFIX a project can cue mod get it and import
"github.com/distgen/distgen/schemas" instead of keeping a copy.`,
		Example: `  distgen schema                 # every schema file
  distgen schema '#Versions'     # what versions.cue must hold
  distgen schema '#Component' '#Chart'
  distgen schema --json-schema '#Bundle' > bundle.schema.json
  distgen schema --publish oci://registry.example.com/cue --module-version v0.1.0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if pub.To != "" {
				res, err := pub.Run(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "published %s as %s\n", res.Module, res.Ref)
				return nil
			}
			a.Defs = args
			out, err := a.Run()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.Out, out)
			return err
		},
	}
	cmd.Flags().BoolVar(&a.JSONSchema, "json-schema", false, "export one definition as JSON Schema")
	cmd.Flags().StringVar(&pub.To, "publish", "", "publish the schemas as a CUE module to oci://HOST/PREFIX")
	cmd.Flags().StringVar(&pub.Version, "module-version", "", "the module's version, v0.MINOR.PATCH (with --publish)")
	cmd.Flags().BoolVar(&pub.PlainHTTP, "plain-http", false, "reach a loopback registry over HTTP (with --publish)")
	return cmd
}
