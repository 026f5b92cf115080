package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
)

func newTenant(s streams, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Vet and build tenant bundles: isolated tenants and their apps",
		Long: `Tenant bundles (tenantBundles in bundles/) describe tenants: a namespace
each, a service account Flux impersonates for everything installed there,
rights in that namespace only, a quota, limits and network isolation, and
app instances of the first-party charts under packages/apps, whose values
are checked against each app's values.cue. Every tenant is released as an
artifact of its own, PREFIX/tenants/<tenant>:<version>.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTenantVet(s, g), newTenantBuild(s, g), newTenantPush(s, g), newTenantBootstrap(s))
	return cmd
}

func newTenantVet(s streams, g *globals) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "vet",
		Short: "Check the tenant bundles and every instance's values against its app's schema",
		Example: `  distgen tenant vet
  distgen tenant vet -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := action.VetTenants(g.Dir)
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				for _, r := range res {
					fmt.Fprintf(s.Out, "ok  tenant bundle %s %s: %d tenants, %d app instances\n", r.Name, r.Version, r.Tenants, r.Instances)
				}
			})
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func newTenantBuild(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var noCache bool
	a := &action.TenantBuild{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Package the app charts and render every tenant's Flux artifact",
		Long: `Build packages every app chart the bundle's instances use, renders each
instance with its values, and writes per tenant the objects of its artifact.
The output directory (dist/tenants/<bundle> by default) holds apps/*.tgz,
tenants/<tenant>/*.yaml and release.json with every digest.`,
		Example: `  distgen tenant build --bundle customers
  distgen tenant build --bundle customers --out /tmp/customers -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.TenantProject = action.TenantProject{Dir: g.Dir, Bundle: g.Bundle}
			var err error
			if a.Cache, err = buildCache(noCache); err != nil {
				return err
			}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res.Release, func() {
				for _, c := range res.Release.Apps {
					fmt.Fprintf(s.Out, "app     %-40s %s\n", c.Chart.Repository+":"+c.Chart.Tag, c.Chart.Digest)
				}
				for _, t := range res.Release.Tenants {
					fmt.Fprintf(s.Out, "tenant  %-40s %s\n", t.Artifact.Repository+":"+t.Artifact.Tag, t.Artifact.Digest)
				}
				fmt.Fprintf(s.Err, "wrote %s\n", res.Out)
			})
		},
	}
	addBuildFlags(cmd, &a.Out, "dist/tenants/<bundle>", &a.KubeVersion, &a.Jobs, &noCache, &a.Bounds)
	addOutputFlag(cmd, &out)
	return cmd
}

func newTenantPush(s streams, g *globals) *cobra.Command {
	var out outputFormat
	a := &action.TenantPush{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Publish a tenant build: app charts, then one artifact per tenant",
		Long: `Push publishes what distgen tenant build wrote: every app chart to
PREFIX/apps/<app>:<version>, then every tenant to PREFIX/tenants/<tenant>:<version>.
Each digest is rebuilt from the files and must equal release.json's.`,
		Example: `  distgen tenant push --bundle customers --to oci://registry.example.com/platform`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.Dir == "" {
				proj, tb, err := (action.TenantProject{Dir: g.Dir, Bundle: g.Bundle}).Load()
				if err != nil {
					return err
				}
				a.Dir = filepath.Join(proj.Root, "dist", action.TenantsDir, tb.Name)
			}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() { printArtifacts(s, res.Artifacts, res.Bytes, a.To) })
		},
	}
	cmd.Flags().StringVar(&a.Dir, "dir", "", "the tenant build's output directory (default dist/tenants/<bundle>)")
	cmd.Flags().StringVar(&a.To, "to", "", "oci://HOST/PREFIX or oci-layout:DIR (required)")
	cmd.Flags().BoolVar(&a.Force, "force", false, "move tags the target holds at other content")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	_ = cmd.MarkFlagRequired("to")
	addOutputFlag(cmd, &out)
	return cmd
}

func newTenantBootstrap(s streams) *cobra.Command {
	a := &action.TenantBootstrap{}
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Print the Flux objects that make a cluster pull and reconcile pushed tenants",
		Long: `Bootstrap prints, per tenant, an OCIRepository in flux-system that pulls the
tenant's artifact pinned by digest, and a Kustomization that applies it,
filling in the registry the tenant's app charts come from. Name each tenant
by reference (its digest is read from the registry), or give the registry
prefix and a tenant build's output, which names the tenants and their
digests without the network. Apply the output to a cluster that runs Flux.`,
		Example: `  # pin what the registry holds now
  distgen tenant bootstrap --from oci://registry.example.com/platform/tenants/acme:0.1.0 \
    --from oci://registry.example.com/platform/tenants/acme-dev:0.1.0 | kubectl apply -f -

  # every tenant of a local build, pinned to its digests
  distgen tenant bootstrap --from oci://registry.example.com/platform --release dist/tenants/customers

  # one tenant of it
  distgen tenant bootstrap --from oci://registry.example.com/platform --release dist/tenants/customers --tenant acme

  # an air-gapped site: the tenant, its charts and its images from the site's mirror
  distgen tenant bootstrap --from oci://mirror.local/platform/tenants/acme:0.1.0 --relocate-images`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := a.Run(cmd.Context())
			return printManifest(s, out, a.Out, err)
		},
	}
	cmd.Flags().StringArrayVar(&a.From, "from", nil, "a tenant, oci://HOST/PREFIX/tenants/NAME:VERSION (repeatable); or oci://HOST/PREFIX with --release (required)")
	cmd.Flags().StringVar(&a.Release, "release", "", "a tenant build's output directory: take the tenants and digests from its release.json")
	cmd.Flags().StringSliceVar(&a.Tenants, "tenant", nil, "only these tenants of --release (repeatable)")
	cmd.Flags().StringVar(&a.Registry, "registry", "", "HOST/PREFIX the app charts are pulled from (default: the prefix of --from)")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	cmd.Flags().BoolVar(&a.RelocateImages, "relocate-images", false, "pull every tenant image from the mirror at --registry (where distgen mirror put them)")
	cmd.Flags().DurationVar(&a.Interval, "interval", 0, "reconciliation interval (default 10m)")
	cmd.Flags().StringVar(&a.Out, "out", "", "write to this file instead of stdout")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
