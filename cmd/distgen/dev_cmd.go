package main

import (
	"fmt"

	"github.com/spf13/cobra"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/distgen/distgen/generator/action"
)

func newDev(s streams, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Try a release on a local kind cluster",
		Long: `dev up creates a kind cluster, serves the bundle's release to it from its node,
installs Flux's controllers and bootstraps the bundle; dev down removes what
dev up made, and nothing else. Docker must be running.`,
	}
	cmd.AddCommand(newDevUp(s, g), newDevDown(s))
	return cmd
}

func newDevUp(s streams, g *globals) *cobra.Command {
	var out outputFormat
	a := &action.DevUp{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create a kind cluster and install the bundle on it",
		Long: `Up builds the bundle and pushes its release into an OCI layout, which a
distgen serve in the cluster's node serves at ` + action.DevRegistry + ` (the node's
loopback address; containerd is told it is plain HTTP). It creates the kind
cluster through kind's Go API, installs Flux's source, kustomize and helm
controllers at the versions the bundle's images pin (their CRDs come from the
controllers' module zips, through the Go module proxy), applies the bootstrap
objects and waits for every HelmRelease to be Ready. With --tenants it builds
that tenant bundle too, serves its tenants and their app charts beside the
bundle, bootstraps every tenant and waits for their instances as well.

With --images-from the release's images and Flux's are mirrored into the
node's registry too, and the node's containerd uses it as the mirror of each
registry they come from (the manifests keep the images' names). With
--relocate-images they are mirrored (from their own registries unless
--images-from says otherwise) and every release pulls them from the node's
registry by name, as an air-gapped site does.

With --registry the release goes to a registry you run instead, as this
machine reaches it (HOST[:PORT][/PREFIX]); the node pulls from it under the
same name, or under --cluster-registry when it reaches that host by another
name (a registry container on kind's network: --registry localhost:5001
--cluster-registry kind-registry:5000). TLS is verified; --plain-http, for a
loopback registry, makes the node talk HTTP to it too. A registry whose
certificate a private CA signed needs --registry-ca: the node's containerd
and Flux's source-controller trust that CA (this machine must trust it
already: its system store, or SSL_CERT_FILE). dev down leaves what was
pushed there.

The node mounts this distgen binary to serve the release: it must run there
(a Linux build; a static one runs on any node image).`,
		Example: `  distgen dev up
  distgen dev up --bundle demo --name demo -o json
  distgen dev up --bundle demo --tenants sandbox
  distgen dev up --images-from oci-layout:images
  distgen dev up --registry localhost:5001/dev --cluster-registry kind-registry:5000 --plain-http --relocate-images
  distgen dev up --node-image distgen.local/kind-node:v1.33.13-r4 --relocate-images --images-from oci-layout:images`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Project = g.project()
			a.Logger = kindcmd.NewLogger()
			a.Log = s.Err
			st, err := a.Run(cmd.Context())
			if st != nil {
				if perr := out.print(s.Out, st, func() { printDevState(s, st) }); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&a.Name, "name", "distgen", "the kind cluster's name")
	cmd.Flags().StringVar(&a.NodeImage, "node-image", "", "the node image (default: kind's own)")
	cmd.Flags().StringVar(&a.Tenants, "tenants", "", "a tenant bundle to bootstrap beside the bundle, every tenant of it")
	cmd.Flags().BoolVar(&a.RelocateImages, "relocate-images", false, "mirror the images into the cluster's registry and make every release pull them from there by name")
	cmd.Flags().StringVar(&a.ImagesFrom, "images-from", "", "mirror the images into the cluster's registry from here (oci://HOST/PREFIX, oci-layout:DIR or FILE.tar a mirror filled)")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "talk HTTP to --images-from and --registry (loopback registries only)")
	cmd.Flags().StringVar(&a.Registry, "registry", "", "put the release into this registry you run (HOST[:PORT][/PREFIX]) instead of serving it from the node")
	cmd.Flags().StringVar(&a.ClusterRegistry, "cluster-registry", "", "HOST[:PORT] the node reaches --registry's host at (default: the same name)")
	cmd.Flags().StringVar(&a.RegistryCA, "registry-ca", "", "PEM certificates of the CA that signed --registry's certificate, for the cluster to trust")
	cmd.Flags().BoolVar(&a.Retain, "retain", false, "keep the nodes if creating the cluster fails, to look into why (dev down removes them)")
	cmd.Flags().DurationVar(&a.Wait, "wait", 0, "how long to wait for each step: the control plane, Flux, the releases (default 5m)")
	addOutputFlag(cmd, &out)
	return cmd
}

func printDevState(s streams, st *action.DevState) {
	fmt.Fprintf(s.Out, "cluster     %s\n", st.Cluster)
	fmt.Fprintf(s.Out, "kubeconfig  %s\n", st.Kubeconfig)
	if st.Bundle != "" {
		fmt.Fprintf(s.Out, "release     %s:%s from %s\n", st.Bundle, st.Version, st.Registry)
	}
	if st.Tenants != "" {
		fmt.Fprintf(s.Out, "tenants     %s\n", st.Tenants)
	}
	for _, r := range st.Releases {
		state := "Ready"
		if !r.Ready {
			state = "not ready: " + r.Message
		}
		fmt.Fprintf(s.Out, "  %s/%s  %s\n", r.Namespace, r.Name, state)
	}
}

func newDevDown(s streams) *cobra.Command {
	var out outputFormat
	a := &action.DevDown{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the kind cluster dev up made, and what it kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Logger = kindcmd.NewLogger()
			st, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, st, func() { fmt.Fprintf(s.Out, "removed kind cluster %s\n", st.Cluster) })
		},
	}
	cmd.Flags().StringVar(&a.Name, "name", "distgen", "the kind cluster's name")
	addOutputFlag(cmd, &out)
	return cmd
}
