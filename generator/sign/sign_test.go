package sign

import (
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestSignVerify(t *testing.T) {
	priv, pub, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := PrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PrivateKey(priv, []byte("wrong")); !errors.Is(err, ErrBadPassword) {
		t.Errorf("wrong password: %v", err)
	}
	pk, err := PublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(64, 1)
	d, _ := img.Digest()
	body, sig, err := Sign(key, "registry.example.com/charts/a", d)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := Append(nil, body, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pk, sigs, d); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// Appending the same signature again adds nothing.
	again, _ := Append(sigs, body, sig)
	if m, _ := again.Manifest(); len(m.Layers) != 1 {
		t.Errorf("%d layers after appending a signature twice", len(m.Layers))
	}
	if Tag(d) != "sha256-"+d.Hex+".sig" {
		t.Errorf("tag %s", Tag(d))
	}

	// Another key, another artifact: refused.
	_, otherPub, _ := GenerateKeyPair(nil)
	other, _ := PublicKey(otherPub)
	if err := Verify(other, sigs, d); !errors.Is(err, ErrNoSignature) {
		t.Errorf("verify with another key: %v", err)
	}
	otherImg, _ := random.Image(64, 1)
	od, _ := otherImg.Digest()
	if err := Verify(pk, sigs, od); !errors.Is(err, ErrNoSignature) {
		t.Errorf("verify of another digest: %v", err)
	}
}
