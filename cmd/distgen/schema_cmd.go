package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newSchema(s streams) *cobra.Command {
	a := &action.Schema{}
	cmd := &cobra.Command{
		Use:   "schema [#DEFINITION...]",
		Short: "Print the schemas distgen checks projects against, with their comments",
		Long: `Schema prints the CUE schemas built into distgen, the ones in force whatever
a project's schemas/ directory holds: all of them, or the definitions named
(#Bundle, #Component, #Versions, #TenantBundle, #Tenant, …), each as written,
with its comments.

--json-schema exports one definition (default #Bundle) as JSON Schema (draft
2020-12), through CUE's own encoder, for editors and language servers.`,
		Example: `  distgen schema                 # every schema file
  distgen schema '#Versions'     # what versions.cue must hold
  distgen schema '#Component' '#Chart'
  distgen schema --json-schema '#Bundle' > bundle.schema.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}
