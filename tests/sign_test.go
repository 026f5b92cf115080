package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/sign"
)

// cosign runs the real cosign CLI (make test builds it from the Go module
// proxy) with the key password in the environment and no network beyond
// the test's registry.
func cosign(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv("DISTGEN_COSIGN")
	if bin == "" {
		t.Skip("DISTGEN_COSIGN not set (make test sets it)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=test-password", "HOME="+t.TempDir(), "TUF_ROOT="+t.TempDir())
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// signRelease pushes the demo release to a fresh registry and signs it
// with the key at keyPath.
func signRelease(t *testing.T, keyPath string) (host string, res *action.BuildResult) {
	t.Helper()
	out, res := build(t, repoRoot, "demo")
	host = newRegistry(t, nil)
	to := "oci://" + host + "/distgen"
	if _, err := push(t, out, to); err != nil {
		t.Fatal(err)
	}
	key, err := action.LoadPrivateKey(keyPath, []byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&action.Sign{From: out, To: to, Key: key, PlainHTTP: true}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return host, res
}

func verifyRelease(from, pubPath string) error {
	pub, err := action.LoadPublicKey(pubPath)
	if err != nil {
		return err
	}
	_, err = (&action.Verify{From: from, Key: pub, PlainHTTP: true}).Run(context.Background())
	return err
}

// distgen signs with a key cosign generate-key-pair made, and cosign
// verify --key accepts every signature; cosign signs with a key distgen
// keygen made, and distgen verify accepts it.
func TestSignInteropWithCosign(t *testing.T) {
	dir := t.TempDir()
	if out, err := cosign(t, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign")); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	host, res := signRelease(t, filepath.Join(dir, "cosign.key"))
	refs := []string{host + "/distgen/" + res.Release.Artifact.Repository + "@" + res.Release.Artifact.Digest}
	for _, c := range res.Release.Components {
		refs = append(refs, host+"/distgen/"+c.Chart.Repository+"@"+c.Chart.Digest)
	}
	for _, ref := range refs {
		if out, err := cosign(t, "verify", "--key", filepath.Join(dir, "cosign.pub"), "--insecure-ignore-tlog=true", "--allow-http-registry", ref); err != nil {
			t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
		}
	}
	if err := verifyRelease("oci://"+host+"/distgen/bundles/demo:0.1.0", filepath.Join(dir, "cosign.pub")); err != nil {
		t.Errorf("distgen verify: %v", err)
	}

	// The other way round: distgen's key, cosign's signature.
	keys := filepath.Join(t.TempDir(), "distgen")
	if _, _, err := (&action.Keygen{Prefix: keys, Password: []byte("test-password")}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(host + "/other/app:1.0.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if out, err := cosign(t, "sign", "--key", keys+".key", "--tlog-upload=false", "--allow-http-registry", "-y", host+"/other/app@"+d.String()); err != nil {
		t.Fatalf("cosign sign with distgen's key: %v\n%s", err, out)
	}
	sigRef, _ := name.ParseReference(host + "/other/app:" + sign.Tag(d))
	sigs, err := remote.Image(sigRef)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := action.LoadPublicKey(keys + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.Verify(pub, sigs, d); err != nil {
		t.Errorf("distgen's check of cosign's signature: %v", err)
	}
	// And cosign refuses the release under a key that did not sign it.
	if out, err := cosign(t, "verify", "--key", keys+".pub", "--insecure-ignore-tlog=true", "--allow-http-registry", refs[0]); err == nil {
		t.Errorf("cosign verify with another key accepted %s:\n%s", refs[0], out)
	}
}

// A release verifies only if every artifact carries a signature by the
// key over its current digest: an unsigned artifact, another key, and an
// artifact changed after signing are each named; a mirror carries the
// signatures, so the archive and the second registry verify with the
// origin gone.
func TestVerifyRelease(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a", "b"} {
		if _, _, err := (&action.Keygen{Prefix: filepath.Join(dir, p), Password: []byte("test-password")}).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	origin, _, _, _ := mirrorFixture(t)
	host := hostOf(origin)
	from := "oci://" + host + "/distgen/bundles/demo:0.1.0"
	key, err := action.LoadPrivateKey(filepath.Join(dir, "a.key"), []byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyRelease(from, filepath.Join(dir, "a.pub")); err == nil {
		t.Error("an unsigned release verifies")
	}
	signed, err := (&action.Sign{Release: from, Key: key, PlainHTTP: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyRelease(from, filepath.Join(dir, "a.pub")); err != nil {
		t.Fatalf("verify: %v", err)
	}
	var ve *action.VerifyError
	if err := verifyRelease(from, filepath.Join(dir, "b.pub")); !errors.As(err, &ve) || len(ve.Problems) != len(signed.Signatures) {
		t.Errorf("verify with another key: %v, want every artifact named", err)
	}

	// Mirrored to an archive and a second registry: the signatures go too.
	archive := filepath.Join(t.TempDir(), "demo.tar")
	site := newRegistry(t, nil)
	for _, to := range []string{archive, "oci://" + site + "/site"} {
		if _, err := (&action.Mirror{From: from, To: to, PlainHTTP: true}).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	origin.Close()
	if err := verifyRelease(archive, filepath.Join(dir, "a.pub")); err != nil {
		t.Errorf("verify the archive: %v", err)
	}
	if err := verifyRelease("oci://"+site+"/site/bundles/demo:0.1.0", filepath.Join(dir, "a.pub")); err != nil {
		t.Errorf("verify the mirror: %v", err)
	}

	// The bundle changed after signing (one annotation, as someone with
	// write access to the registry could): refused, naming it.
	ref, _ := name.ParseReference(site + "/site/bundles/demo:0.1.0")
	bundle, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	changed := mutate.Annotations(bundle, map[string]string{"org.opencontainers.image.description": "changed"}).(v1.Image)
	if err := remote.Write(ref, changed); err != nil {
		t.Fatal(err)
	}
	cd, _ := changed.Digest()
	err = verifyRelease("oci://"+site+"/site/bundles/demo:0.1.0", filepath.Join(dir, "a.pub"))
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.Contains(err.Error(), "bundles/demo@"+cd.String()) {
		t.Errorf("a bundle changed after signing: %v, want it named", err)
	}
}
