package main

import (
	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

// addCompletions makes shell completion (distgen completion bash|zsh|fish)
// know the project at -C: bundle names for --bundle, component names for
// the commands that take one, upstream chart names for bump --upstream,
// and the values of enumerated flags.
func addCompletions(root *cobra.Command, g *globals) {
	names := func(pick func(*action.Names) []string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			n, err := action.ProjectNames(g.Dir, g.Bundle)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return pick(n), cobra.ShellCompDirectiveNoFileComp
		}
	}
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	_ = root.RegisterFlagCompletionFunc("bundle", names(func(n *action.Names) []string {
		return append(append([]string{}, n.Bundles...), n.TenantBundles...)
	}))
	components := names(func(n *action.Names) []string { return n.Components })
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Flags().Lookup("output") != nil {
			_ = c.RegisterFlagCompletionFunc("output", fixed("text", "json", "yaml"))
		}
		switch c.Name() {
		case "template":
			c.ValidArgsFunction = components
		case "bump":
			c.ValidArgsFunction = func(cmd *cobra.Command, args []string, s string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return components(cmd, args, s)
			}
			_ = c.RegisterFlagCompletionFunc("upstream", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				n, err := action.ProjectNames(g.Dir, g.Bundle)
				if err != nil {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				out := make([]string, len(n.Upstreams))
				for i, u := range n.Upstreams {
					out[i] = u + "="
				}
				return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
			})
			_ = c.RegisterFlagCompletionFunc("level", fixed("patch", "minor", "major"))
		case "graph":
			_ = c.RegisterFlagCompletionFunc("format", fixed("dot", "svg"))
		case "report":
			_ = c.RegisterFlagCompletionFunc("format", fixed(action.ReportMarkdown, action.ReportHTML))
		case "talos-profile":
			_ = c.RegisterFlagCompletionFunc("format", fixed("schematic", "imager"))
		}
	}
	walk(root)
}
