package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/generator/timing"
)

func newVet(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var noCache bool
	a := &action.Vet{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "vet",
		Short: "Check the project's CUE and every bundle without building",
		Long: `Vet checks the project's CUE against distgen's schemas and every bundle's
components against each other. With --render it also renders every bundle
(or the one --bundle names) as a build would and checks what it renders:
Helm lint, every object of Kubernetes' own kinds against its OpenAPI schema,
and every custom resource against the CRDs the release installs. Nothing
is written.`,
		Example: `  # check this project's schemas, versions and bundles
  distgen vet

  # and what the demo bundle renders
  distgen vet --render --bundle demo

  # the same for a project elsewhere, as JSON
  distgen vet -C ../platform -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Dir, a.Bundle = g.Dir, g.Bundle
			if a.Render {
				var err error
				if a.Cache, err = buildCache(noCache); err != nil {
					return err
				}
			}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				for _, b := range res {
					fmt.Fprintf(s.Out, "ok  bundle %s %s: %d components (%d enabled) in %d namespaces, %d dependency levels\n",
						b.Name, b.Version, b.Components, b.Enabled, b.Namespaces, b.Levels)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&a.Render, "render", false, "also render every bundle and check what it renders, writing nothing")
	cmd.Flags().StringVar(&a.KubeVersion, "kube-version", chart.DefaultKubeVersion, "Kubernetes version charts are rendered for (with --render)")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "with --render, render every chart afresh")
	addOutputFlag(cmd, &out)
	return cmd
}

func newBuild(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var noCache, timings bool
	a := &action.Build{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Package every chart and render the Flux objects of a bundle",
		Long: `Build packages the chart of every enabled component, lints and renders it,
and writes the Flux objects that install the bundle. The output directory
(dist/<bundle> by default) holds charts/*.tgz, flux/*.yaml and release.json
with the digest every artifact will have once pushed. It is replaced only
when the whole build succeeds.`,
		Example: `  # build the demo bundle into dist/demo
  distgen build --bundle demo

  # build into another directory and print release.json
  distgen build --bundle demo --out /tmp/demo -o json

  # where the time goes: each stage's time, added up over the charts
  distgen build --bundle demo --no-cache --timings`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Project = g.project()
			var err error
			if a.Cache, err = buildCache(noCache); err != nil {
				return err
			}
			if timings {
				a.Stages = timing.New()
			}
			start := time.Now()
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			if timings {
				timing.Print(s.Err, a.Stages.List())
				fmt.Fprintf(s.Err, "%-9s %10s (stages of many charts add up the time of each)\n", "wall", time.Since(start).Round(time.Millisecond))
			}
			return out.print(s.Out, res.Release, func() {
				for _, c := range res.Release.Components {
					fmt.Fprintf(s.Out, "chart   %-40s %s\n", c.Chart.Repository+":"+c.Chart.Tag, c.Chart.Digest)
				}
				r := res.Release.Artifact
				fmt.Fprintf(s.Out, "bundle  %-40s %s\n", r.Repository+":"+r.Tag, r.Digest)
				fmt.Fprintf(s.Err, "wrote %s\n", res.Out)
			})
		},
	}
	addBuildFlags(cmd, &a.Out, "dist/<bundle>", &a.KubeVersion, &a.Jobs, &noCache, &a.Bounds)
	cmd.Flags().BoolVar(&a.Strict, "strict", false, "make Helm lint's advice an error")
	cmd.Flags().BoolVar(&timings, "timings", false, "print the time of each stage of the build on stderr")
	cmd.Flags().BoolVar(&a.AllowUnbumped, "allow-unbumped", false, "let a component's content change while its version stays (development builds)")
	cmd.Flags().StringVar(&a.Since, "since", "", "compare with this pushed release (oci://HOST/PREFIX/bundles/NAME:VERSION) instead of the output directory's")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP for --since (loopback registries only)")
	addOutputFlag(cmd, &out)
	return cmd
}

// addBuildFlags adds the flags distgen build and distgen tenant build share.
func addBuildFlags(cmd *cobra.Command, out *string, defaultOut string, kubeVersion *string, jobs *int, noCache *bool, bounds *chart.Bounds) {
	cmd.Flags().StringVar(out, "out", "", "output directory (default "+defaultOut+" in the project)")
	cmd.Flags().StringVar(kubeVersion, "kube-version", chart.DefaultKubeVersion, "Kubernetes version charts are rendered for")
	cmd.Flags().IntVar(jobs, "jobs", 0, "charts built at once (default: one per CPU)")
	cmd.Flags().BoolVar(noCache, "no-cache", false, "lint, render and package every chart, even those the build cache holds")
	addBoundsFlags(cmd, bounds)
}

// addBoundsFlags adds the limits of one chart's lint and render.
func addBoundsFlags(cmd *cobra.Command, b *chart.Bounds) {
	cmd.Flags().DurationVar(&b.Timeout, "chart-timeout", chart.DefaultBounds.Timeout, "time one chart's lint and render may take")
	cmd.Flags().Int64Var(&b.Output, "max-render-size", chart.DefaultBounds.Output, "bytes of manifests one chart may render")
}

// buildCache is the chart build cache ($DISTGEN_CACHE/builds or the user's
// cache directory), or none when noCache is set.
func buildCache(noCache bool) (*chart.Cache, error) {
	if noCache {
		return nil, nil
	}
	return chart.DefaultCache()
}

func newTemplate(s streams, g *globals) *cobra.Command {
	a := &action.Template{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "template COMPONENT",
		Short: "Print the manifests one component renders with its final values",
		Example: `  # what the tenant-demo release installs
  distgen template tenant-demo --bundle demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Project = g.project()
			a.Component = args[0]
			out, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.Out, out)
			return err
		},
	}
	cmd.Flags().StringVar(&a.KubeVersion, "kube-version", chart.DefaultKubeVersion, "Kubernetes version charts are rendered for")
	addBoundsFlags(cmd, &a.Bounds)
	return cmd
}

func newImages(s streams, g *globals) *cobra.Command {
	var out outputFormat
	a := &action.Images{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List the container images a bundle's release pulls",
		Long: `Images renders every component with its final values and lists the images
its release pulls, each once, normalized as container runtimes resolve it
(busybox is docker.io/library/busybox:latest; a tag found with its digest is
one image). Its sources:

  - the pod templates of every workload kind: container images, *IMAGE*
    environment variables and --...image...=REF arguments;
  - image fields of custom resources (image, *Image, as references or as
    {registry, repository, tag|digest} maps), virtual machines' container
    disks;
  - the charts' helm.sh/images annotation;
  - image-shaped final values and image references in chart files (such as
    images/NAME.tag read with .Files.Get), where the rendered objects name
    them, so a default the release leaves unused is not listed;
  - the images the bundle pins in CUE.

-o json says where each image was found.`,
		Example: `  # every image of the demo bundle, one per line
  distgen images --bundle demo

  # per component, as JSON
  distgen images --bundle platform -o json

  # every tag pinned to the digest its registry serves now
  distgen images --bundle demo --resolve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Project = g.project()
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				for _, i := range res.Images {
					fmt.Fprintln(s.Out, i)
				}
			})
		},
	}
	cmd.Flags().StringVar(&a.KubeVersion, "kube-version", chart.DefaultKubeVersion, "Kubernetes version charts are rendered for")
	cmd.Flags().BoolVar(&a.Resolve, "resolve", false, "pin every tag to the digest its registry reports now")
	cmd.Flags().BoolVar(&a.Lock, "lock", false, "with --resolve: record the digests in versions.lock.json; builds then pin them in release.json")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "reach loopback registries over HTTP when resolving")
	addOutputFlag(cmd, &out)
	return cmd
}

func newTalosProfile(s streams, g *globals) *cobra.Command {
	var out outputFormat
	a := &action.TalosProfile{}
	cmd := &cobra.Command{
		Use:   "talos-profile",
		Short: "Print the Talos node image versions.cue pins: an Image Factory schematic or an imager profile",
		Long: `Talos-profile renders the node image the project pins: Talos Linux
versions.talos.version with the system extensions of versions.talos.

--format schematic (the default) prints an Image Factory schematic: post it
to a factory to get the installer and boot images.

--format imager prints a profile for Talos's imager, which builds the
installer without a factory: every image it pulls (the imager, the base
installer and the extensions) is in the release's image inventory, so
distgen mirror carries them to an air-gapped site. With --registry, the
profile pulls them from the mirror, where distgen mirror put them.`,
		Example: `  # the schematic, as the factory takes it
  distgen talos-profile > schematic.yaml
  curl -X POST --data-binary @schematic.yaml https://factory.talos.dev/schematics

  # at an air-gapped site: build the installer from the mirrored images
  distgen talos-profile --format imager --registry registry.site.local/platform > installer.yaml
  docker run --rm -i -v $PWD/_out:/out --privileged \\
    registry.site.local/platform/images/ghcr.io/siderolabs/imager:v1.11.5 - < installer.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Dir = g.Dir
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			if out == outputText {
				out = outputYAML
				if res.Imager != nil {
					fmt.Fprintf(s.Err, "# imager profile for Talos %s; run it with %s\n", res.Version, res.ImagerImage)
					return out.print(s.Out, res.Imager, nil)
				}
				fmt.Fprintf(s.Err, "# Image Factory schematic for Talos %s\n", res.Version)
				return out.print(s.Out, res.Schematic, nil)
			}
			return out.print(s.Out, res, nil)
		},
	}
	cmd.Flags().StringVar(&a.Format, "format", action.TalosSchematic, "schematic (Image Factory) or imager (Talos imager profile)")
	cmd.Flags().StringVar(&a.Arch, "arch", "amd64", "the imager profile's architecture: amd64 or arm64")
	cmd.Flags().StringVar(&a.Registry, "registry", "", "HOST/PREFIX of a mirror: the imager profile pulls its images from there")
	addOutputFlag(cmd, &out)
	return cmd
}

func newGraph(s streams, g *globals) *cobra.Command {
	a := &action.Graph{}
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print a bundle's dependency graph as DOT or SVG",
		Example: `  # the demo bundle's graph in Graphviz's DOT language
  distgen graph --bundle demo

  # as an SVG picture (needs Graphviz's dot on PATH)
  distgen graph --bundle demo --format svg > demo.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Project = g.project()
			out, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			_, err = s.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar((*string)(&a.Format), "format", string(action.GraphDOT), "dot, or svg (needs Graphviz's dot on PATH)")
	return cmd
}

// version is set at link time (-X main.version=...).
var version = "dev"

type versionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	Helm    string `json:"helm"`
	CUE     string `json:"cue"`
	Flux    string `json:"fluxHelmAPI"`
}

func newVersion(s streams) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version of distgen and of the libraries it builds with",
		Example: "  distgen version -o json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := versionInfo{Version: version, Go: runtime.Version()}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					switch d.Path {
					case "helm.sh/helm/v4":
						v.Helm = d.Version
					case "cuelang.org/go":
						v.CUE = d.Version
					case "github.com/fluxcd/helm-controller/api":
						v.Flux = d.Version
					}
				}
			}
			return out.print(s.Out, v, func() {
				fmt.Fprintf(s.Out, "distgen %s (%s, helm %s, cue %s)\n", v.Version, v.Go, v.Helm, v.CUE)
			})
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}
