package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/upstream"
)

// printArtifacts prints each artifact written as REF@DIGEST on stdout and
// a summary on stderr.
func printArtifacts(s streams, artifacts []publish.Result, bytes int64, target string) {
	for _, r := range artifacts {
		fmt.Fprintf(s.Out, "%s@%s\n", r.Ref, r.Digest)
	}
	fmt.Fprintf(s.Err, "%d artifacts, %d blob bytes written to %s\n", len(artifacts), bytes, target)
}

// printDryRun lists what a push or mirror would write, and the total.
func printDryRun(s streams, artifacts []publish.Result, bytes int64, target string) {
	n := 0
	for _, r := range artifacts {
		if r.Skipped {
			fmt.Fprintf(s.Out, "present  %s@%s\n", r.Ref, r.Digest)
			continue
		}
		n++
		fmt.Fprintf(s.Out, "write    %s@%s  %d bytes\n", r.Ref, r.Digest, r.Bytes)
	}
	fmt.Fprintf(s.Err, "dry run: %d of %d artifacts, at most %d blob bytes, would be written to %s\n", n, len(artifacts), bytes, target)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar redraws one line on a terminal: a bar, the count and the
// artifact just done; the last call ends the line.
func progressBar(w io.Writer) func(done, total int, r publish.Result) {
	const width = 24
	var bytes int64
	return func(done, total int, r publish.Result) {
		bytes += r.Bytes
		filled := width * done / total
		state := "pushed"
		if r.Skipped {
			state = "unchanged"
		}
		fmt.Fprintf(w, "\r\033[K[%s%s] %d/%d %s %s, %d bytes uploaded",
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total, state, r.Ref, bytes)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

func newPush(s streams, g *globals) *cobra.Command {
	var schemasVersion string
	var out outputFormat
	a := &action.Push{Log: s.Err}
	var signIt bool
	var signWith string
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Publish a built bundle: its charts, then its Flux objects",
		Long: `Push publishes what distgen build wrote: every chart as a Helm OCI artifact at
PREFIX/charts/<chart>:<version>, then the bundle's Flux objects as a Flux OCI
artifact at PREFIX/bundles/<bundle>:<version>. The digests pushed are those
release.json recorded; the bundle is tagged only after every chart is in
place; artifacts the target already holds are skipped. Credentials come from
the Docker config and its credential helpers.`,
		Example: `  # push the demo bundle to a registry
  distgen build --bundle demo
  distgen push --bundle demo --to oci://registry.example.com/platform

  # to a registry on this machine, over plain HTTP
  distgen push --bundle demo --to oci://127.0.0.1:5000/platform --plain-http

  # into an OCI image layout directory (no registry needed)
  distgen push --bundle demo --to oci-layout:dist/demo-oci

  # and sign every artifact (cosign's format)
  COSIGN_PASSWORD=... distgen push --bundle demo --to oci://registry.example.com/platform --sign --key cosign.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Project = g.project()
			if signIt != (signWith != "") {
				return flagError{fmt.Errorf("--sign and --key go together")}
			}
			if signIt {
				var err error
				if a.SignKey, err = action.LoadPrivateKey(signWith, password()); err != nil {
					return err
				}
			}
			if isTerminal(s.Err) {
				a.Progress = progressBar(s.Err)
			}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			if schemasVersion != "" && !a.DryRun {
				pub, err := (&action.PublishSchemas{To: a.To, Version: schemasVersion, PlainHTTP: a.PlainHTTP}).Run(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Err, "published %s as %s\n", pub.Module, pub.Ref)
			}
			return out.print(s.Out, res, func() {
				if res.DryRun {
					printDryRun(s, res.Artifacts, res.Bytes, res.Target)
					return
				}
				printArtifacts(s, res.Artifacts, res.Bytes, res.Target)
			})
		},
	}
	cmd.Flags().BoolVar(&a.Force, "force", false, "move tags the target holds at other content (without it, such a push fails before writing anything)")
	cmd.Flags().BoolVar(&a.DryRun, "dry-run", false, "write nothing: check the tags and say what would be written, with sizes")
	cmd.Flags().StringVar(&schemasVersion, "schemas-version", "", "also publish the schemas as the CUE module github.com/distgen/distgen at this version (v0.X.Y) under --to")
	cmd.Flags().BoolVar(&signIt, "sign", false, "sign every artifact once all are pushed, as distgen sign does (needs --key)")
	cmd.Flags().StringVar(&signWith, "key", "", "private key for --sign (cosign format; password in $COSIGN_PASSWORD)")
	cmd.Flags().StringVar(&a.To, "to", "", "target: oci://HOST/PREFIX or oci-layout:DIR (required)")
	cmd.Flags().StringVar(&a.From, "from", "", "build output directory (default dist/<bundle> in the project)")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	cmd.Flags().IntVar(&a.Jobs, "jobs", action.DefaultPushJobs, "charts pushed at once")
	_ = cmd.MarkFlagRequired("to")
	addOutputFlag(cmd, &out)
	return cmd
}

// printManifest prints what a bootstrap returned, or says where it wrote it.
func printManifest(s streams, manifest []byte, file string, err error) error {
	if err != nil {
		return err
	}
	if file != "" {
		fmt.Fprintf(s.Err, "wrote %s\n", file)
		return nil
	}
	_, err = s.Out.Write(manifest)
	return err
}

func newBootstrap(s streams, g *globals) *cobra.Command {
	a := &action.Bootstrap{}
	var verifyKey string
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Print the Flux objects that make a cluster pull and reconcile a pushed bundle",
		Long: `Bootstrap prints an OCIRepository that pulls the bundle artifact (pinned by
the digest its tag points at now, unless --track follows a SemVer range) and
a Kustomization that applies it, filling in the registry the bundle's charts
come from. Apply the output to a cluster that runs Flux.`,
		Example: `  # pin the demo bundle's current digest
  distgen bootstrap --from oci://registry.example.com/platform/bundles/demo:0.1.0 | kubectl apply -f -

  # pin the digest of a local build, before the registry is reachable
  distgen bootstrap --from oci://registry.example.com/platform/bundles/demo:0.1.0 --release dist/demo

  # an air-gapped site: charts and images from its mirror
  distgen bootstrap --from oci://mirror.local/platform/bundles/demo:0.1.0 --relocate-images

  # follow every 0.1.x release, charts from a mirror
  distgen bootstrap --from oci://mirror.local/platform/bundles/demo:0.1.0 --track '0.1.x' --registry mirror.local/platform

  # this site's values (checked against the bundle's #site) for every release that reads them
  distgen bootstrap --from oci://registry.example.com/platform/bundles/demo:0.1.0 --site site.cue

  # Flux verifies the bundle's and every chart's signature with cosign.pub
  distgen bootstrap --from oci://registry.example.com/platform/bundles/demo:0.1.0 --verify-key cosign.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Dir = g.Dir
			if verifyKey != "" {
				b, err := os.ReadFile(verifyKey)
				if err != nil {
					return flagError{fmt.Errorf("--verify-key: %w", err)}
				}
				a.VerifyKey = b
			}
			out, err := a.Run(cmd.Context())
			return printManifest(s, out, a.Out, err)
		},
	}
	cmd.Flags().StringVar(&a.Site, "site", "", "site file, checked against the bundle's #site schema (in the project at -C): its values reach every release that reads them")
	cmd.Flags().StringVar(&verifyKey, "verify-key", "", "cosign public key: the cluster verifies every artifact's signature with it (spec.verify, provider cosign)")
	cmd.Flags().StringVar(&a.From, "from", "", "the bundle: oci://HOST/PREFIX/bundles/NAME:VERSION (required)")
	cmd.Flags().StringVar(&a.Track, "track", "", "follow a SemVer range of bundle versions instead of pinning the digest")
	cmd.Flags().StringVar(&a.Release, "release", "", "pin the digest recorded in this build output's release.json instead of asking the registry")
	cmd.Flags().StringVar(&a.Registry, "registry", "", "HOST/PREFIX the charts are pulled from (default: the prefix of --from)")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	cmd.Flags().BoolVar(&a.RelocateImages, "relocate-images", false, "pull every image from the mirror at --registry (where distgen mirror put them)")
	cmd.Flags().DurationVar(&a.Interval, "interval", 0, "reconciliation interval (default 10m)")
	cmd.Flags().StringVar(&a.Out, "out", "", "write to this file instead of stdout")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}

func newVendor(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var plainHTTP bool
	a := &action.Vendor{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "vendor",
		Short: "Fetch and lock the upstream charts the bundles wrap, for offline builds",
		Long: `Vendor fetches every upstream chart the project's bundles wrap, from OCI
registries and HTTPS Helm repositories, and verifies it: the digest pinned in
CUE or recorded in versions.lock.json, a safe archive, the right name and
version. It records the digest in versions.lock.json the first time and keeps
the archive in a content-addressed cache ($DISTGEN_CACHE or the user's cache
directory), from which later builds read without the network.`,
		Example: `  # fetch and lock every upstream chart of this project
  distgen vendor

  # then build the platform offline
  distgen build --bundle platform`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Dir = g.Dir
			a.Fetcher = &upstream.Fetcher{PlainHTTP: plainHTTP}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				for _, r := range res {
					fmt.Fprintf(s.Out, "%s %s %s\n", r.Chart.Name, r.Chart.Version, r.Digest)
				}
				if len(res) == 0 {
					fmt.Fprintln(s.Err, "nothing to vendor: no bundle wraps an upstream chart")
				}
			})
		},
	}
	cmd.Flags().BoolVar(&plainHTTP, "plain-http", false, "reach OCI registries over HTTP (loopback registries only)")
	addOutputFlag(cmd, &out)
	return cmd
}

func newServe(s streams) *cobra.Command {
	a := &action.Serve{}
	var accessLog bool
	cmd := &cobra.Command{
		Use:   "serve DIR|ARCHIVE",
		Short: "Serve a release (an OCI layout or a mirror archive) as a read-only registry",
		Long: `Serve makes a release that distgen push wrote into an OCI image layout
directory available as a read-only OCI registry, for sites that bootstrap
from a laptop. Plain HTTP is only offered on loopback addresses; anything
else needs --tls-cert and --tls-key.`,
		Example: `  # write the demo release as a layout and serve it on this machine
  distgen push --bundle demo --to oci-layout:dist/demo-oci
  distgen serve dist/demo-oci --addr 127.0.0.1:5000

  # a mirror archive, as it arrived at the site
  distgen serve demo-0.1.0.tar --addr 127.0.0.1:5000

  # to the site's network, over HTTPS
  distgen serve dist/demo-oci --addr 10.0.0.5:5443 --tls-cert site.crt --tls-key site.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Dir = args[0]
			if accessLog {
				a.AccessLog = s.Err
			}
			a.OnReady = func(addr string, refs []string) {
				for _, r := range refs {
					fmt.Fprintf(s.Out, "%s/%s\n", addr, r)
				}
				fmt.Fprintf(s.Err, "serving %d artifacts at %s (read-only); stop with Ctrl-C\n", len(refs), addr)
			}
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&a.Addr, "addr", "127.0.0.1:5000", "HOST:PORT to listen on")
	cmd.Flags().StringVar(&a.Prefix, "prefix", "", "repository prefix to serve the release under")
	cmd.Flags().StringVar(&a.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	cmd.Flags().StringVar(&a.TLSKey, "tls-key", "", "the certificate's private key (PEM)")
	cmd.Flags().BoolVar(&accessLog, "access-log", false, "print a line per request on stderr: method, path, status, bytes")
	return cmd
}

func newMirror(s streams, g *globals) *cobra.Command {
	var out outputFormat
	a := &action.Mirror{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Copy a whole release (bundle, charts, images) to a registry or an archive",
		Long: `Mirror copies a release by digest: the bundle, every chart its Flux objects
pin and every container image those charts pull. Charts and images go first,
the bundle tag last. What the destination already holds is skipped, so an
interrupted mirror resumes; every digest is checked on arrival. An archive
is an OCI image layout in one tar file (skopeo's oci-archive), staged in
ARCHIVE.partial/ until it is complete. Images are
kept under PREFIX/images/<registry>/<repository>. A tenant mirrors the same
way: its artifact, the app charts it pins and the images they pull.

A release pushed to a layout holds no images: mirror it --images-from a
location that holds them (a mirror filled it), or --skip-images when the
site takes its images from elsewhere. --dry-run writes nothing and lists
what would be copied, with sizes.`,
		Example: `  # into an archive for an air-gapped site
  distgen mirror --from oci://registry.example.com/platform/bundles/demo:0.1.0 --to demo-0.1.0.tar

  # at the site, into its registry
  distgen mirror --from demo-0.1.0.tar --to oci://registry.site.local/platform
  distgen bootstrap --from oci://registry.site.local/platform/bundles/demo:0.1.0

  # a tenant, then its bootstrap from the site's registry
  distgen mirror --from oci://registry.example.com/platform/tenants/acme:0.1.0 --to oci://registry.site.local/platform
  distgen tenant bootstrap --from oci://registry.site.local/platform/tenants/acme:0.1.0

  # what a mirror would copy, and how much
  distgen mirror --from oci://registry.example.com/platform/bundles/demo:0.1.0 --to oci://registry.site.local/platform --dry-run

  # a layout push wrote, its images from last month's mirror archive
  distgen mirror --from oci-layout:dist/demo-oci --to demo-0.1.1.tar --images-from demo-0.1.0.tar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Bundle = g.Bundle // NAME:VERSION, for a layout or archive with several bundles
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				if res.DryRun {
					printDryRun(s, res.Artifacts, res.Bytes, a.To)
					return
				}
				printArtifacts(s, res.Artifacts, res.Bytes, a.To)
			})
		},
	}
	cmd.Flags().StringVar(&a.From, "from", "", "oci://HOST/PREFIX/bundles/NAME:VERSION, oci://HOST/PREFIX/tenants/NAME:VERSION, oci-layout:DIR or FILE.tar (required)")
	cmd.Flags().BoolVar(&a.SkipImages, "skip-images", false, "copy the charts and the bundle only")
	cmd.Flags().StringVar(&a.ImagesFrom, "images-from", "", "read the images from this oci://HOST/PREFIX, oci-layout:DIR or FILE.tar (a mirror filled it) instead of their origin")
	cmd.Flags().BoolVar(&a.DryRun, "dry-run", false, "write nothing: say what would be copied, with sizes")
	cmd.Flags().StringVar(&a.To, "to", "", "oci://HOST/PREFIX, oci-layout:DIR or FILE.tar (required)")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	cmd.Flags().IntVar(&a.Jobs, "jobs", 4, "artifacts copied at once")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	addOutputFlag(cmd, &out)
	return cmd
}
