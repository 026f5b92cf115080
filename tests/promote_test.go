package tests

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/generator/action"
)

// A release is promoted from staging to production by digest: the bundle
// under a second tag is the same bytes, its charts and images come along,
// the signatures made in staging verify in production, a second promotion
// copies nothing, and a tag held by other content is refused before
// anything is copied (--force moves it).
func TestPromote(t *testing.T) {
	ctx := context.Background()
	staging, _, digests, _ := mirrorFixture(t)
	from := "oci://" + hostOf(staging) + "/distgen/bundles/demo:0.1.0"
	key, pubPath := testKey(t)
	if _, err := (&action.Sign{Release: from, Key: key, PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	prod := newRegistry(t, nil)
	to := "oci://" + prod + "/platform"
	res, err := (&action.Promote{From: from, To: to, Tag: "1.0.0", PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head := func(ref string) string {
		t.Helper()
		r, err := name.ParseReference(prod + "/platform/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(r)
		if err != nil {
			return ""
		}
		return d.Digest.String()
	}
	if got := head("bundles/demo:1.0.0"); got != digests["bundles/demo:0.1.0"] || res.Tagged == nil {
		t.Fatalf("bundles/demo:1.0.0 is %q, want the staged bundle %s", got, digests["bundles/demo:0.1.0"])
	}
	for ref, d := range digests {
		if got := head(ref); got != d {
			t.Errorf("%s in production is %q, want %s", ref, got, d)
		}
	}
	pub, err := action.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&action.Verify{From: to + "/bundles/demo:1.0.0", Key: pub, PlainHTTP: true}).Run(ctx); err != nil {
		t.Errorf("the promoted release does not verify: %v", err)
	}

	again, err := (&action.Promote{From: from, To: to, Tag: "1.0.0", PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Bytes != 0 || !again.Tagged.Skipped {
		t.Errorf("a second promotion wrote %d blob bytes (tag skipped: %v), want none", again.Bytes, again.Tagged.Skipped)
	}

	// A tag held by other content.
	other := newRegistry(t, nil)
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	held, _ := name.ParseReference(other + "/platform/bundles/demo:2.0.0")
	if err := remote.Write(held, img); err != nil {
		t.Fatal(err)
	}
	var moved *action.TagMovedError
	_, err = (&action.Promote{From: from, To: "oci://" + other + "/platform", Tag: "2.0.0", PlainHTTP: true}).Run(ctx)
	if !errors.As(err, &moved) {
		t.Fatalf("promotion onto a held tag: %v, want a TagMovedError", err)
	}
	charts, _ := name.ParseReference(other + "/platform/bundles/demo:0.1.0")
	if _, err := remote.Head(charts); err == nil {
		t.Error("a refused promotion copied the release")
	}
	if _, err := (&action.Promote{From: from, To: "oci://" + other + "/platform", Tag: "2.0.0", Force: true, PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if d, err := remote.Head(held); err != nil || d.Digest.String() != digests["bundles/demo:0.1.0"] {
		t.Errorf("--force left the tag at %v (%v)", d, err)
	}

	var usage *action.UsageError
	for _, p := range []*action.Promote{
		{From: from, To: "oci-layout:" + t.TempDir(), PlainHTTP: true},
		{From: from, To: to, Tag: "1.0:0", PlainHTTP: true},
	} {
		if _, err := p.Run(ctx); !errors.As(err, &usage) {
			t.Errorf("promote to %s with tag %q: %v, want a usage error", p.To, p.Tag, err)
		}
	}
}

// testKey makes a signing key pair for a test: the private key, and the
// path of the public key.
func testKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := (&action.Keygen{Prefix: filepath.Join(dir, "k"), Password: []byte("pw")}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	key, err := action.LoadPrivateKey(filepath.Join(dir, "k.key"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return key, filepath.Join(dir, "k.pub")
}
