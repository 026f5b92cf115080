package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/sign"
)

// password is the private key's password: $COSIGN_PASSWORD, as for cosign.
func password() []byte { return []byte(os.Getenv(sign.PasswordEnv)) }

func newKeygen(s streams) *cobra.Command {
	a := &action.Keygen{}
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a key pair for signing releases, as cosign generate-key-pair does",
		Long: `Keygen writes an ECDSA P-256 key pair in cosign's format: PREFIX.key, the
private key encrypted with $COSIGN_PASSWORD (scrypt and NaCl secretbox, mode
0600), and PREFIX.pub. cosign reads both; distgen reads keys cosign made.`,
		Example: `  COSIGN_PASSWORD=... distgen keygen            # cosign.key, cosign.pub
  COSIGN_PASSWORD=... distgen keygen --output-key-prefix release`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Password = password()
			priv, pub, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Err, "wrote %s and %s\n", priv, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&a.Prefix, "output-key-prefix", "cosign", "write PREFIX.key and PREFIX.pub")
	return cmd
}

func newSign(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var key string
	a := &action.Sign{Log: s.Err}
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign a pushed release: its bundle and every chart, as cosign sign --key does",
		Long: `Sign signs the bundle artifact and every chart artifact of a release where
it was pushed, storing each signature as cosign does (the sha256-<digest>.sig
tag beside the artifact), so cosign verify --key and Flux's source-controller
(spec.verify.provider: cosign) accept them. Nothing is signed unless the
target holds every artifact at the digest release.json records. The key's
password comes from $COSIGN_PASSWORD. No transparency log is written.`,
		Example: `  # what a build pushed (release.json names every artifact)
  distgen push --bundle demo --to oci://registry.example.com/platform
  COSIGN_PASSWORD=... distgen sign --bundle demo --key cosign.key --to oci://registry.example.com/platform

  # a release where it is: the bundle and every chart it pins
  COSIGN_PASSWORD=... distgen sign --key cosign.key oci://registry.example.com/platform/bundles/demo:0.1.0`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.Project = g.project()
			if len(args) == 1 {
				a.Release = args[0]
			} else if a.To == "" {
				return flagError{fmt.Errorf("name the release (oci://HOST/PREFIX/bundles/NAME:VERSION) or where it was pushed (--to)")}
			}
			var err error
			if a.Key, err = action.LoadPrivateKey(key, password()); err != nil {
				return err
			}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {})
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "private key (cosign format; password in $COSIGN_PASSWORD) (required)")
	cmd.Flags().StringVar(&a.To, "to", "", "where the release was pushed: oci://HOST/PREFIX or oci-layout:DIR")
	cmd.Flags().StringVar(&a.From, "from", "", "build output directory (default dist/<bundle> in the project)")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	_ = cmd.MarkFlagRequired("key")
	addOutputFlag(cmd, &out)
	return cmd
}

func newVerify(s streams, g *globals) *cobra.Command {
	var out outputFormat
	var key string
	a := &action.Verify{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that a whole release is signed by a key",
		Long: `Verify checks the bundle artifact and every chart its Flux objects pin, in a
registry, an OCI layout or a mirror archive: each must carry a signature by
the key over its digest, made by distgen sign or by cosign sign --key. A
mirror holds the origin's signatures, so a site verifies offline.`,
		Example: `  distgen verify --key cosign.pub --from oci://registry.example.com/platform/bundles/demo:0.1.0
  distgen verify --key cosign.pub --from demo-0.1.0.tar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Bundle = g.Bundle // NAME:VERSION, for a layout or archive with several bundles
			var err error
			if a.Key, err = action.LoadPublicKey(key); err != nil {
				return err
			}
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(s.Out, res, func() {
				for _, v := range res {
					fmt.Fprintf(s.Out, "verified %s@%s\n", v.Repository, v.Digest)
				}
			})
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "public key (cosign.pub) (required)")
	cmd.Flags().StringVar(&a.From, "from", "", "oci://HOST/PREFIX/bundles/NAME:VERSION, oci-layout:DIR or FILE.tar (required)")
	cmd.Flags().BoolVar(&a.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS (loopback registries only)")
	_ = cmd.MarkFlagRequired("key")
	_ = cmd.MarkFlagRequired("from")
	addOutputFlag(cmd, &out)
	return cmd
}
