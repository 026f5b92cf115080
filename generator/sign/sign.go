// Package sign signs OCI artifacts with a key and verifies their
// signatures, in the format cosign uses for `cosign sign --key` and
// `cosign verify --key`: an ECDSA P-256 key pair (the private key PEM
// encrypted with scrypt and NaCl secretbox, as `cosign generate-key-pair`
// writes it), and for an artifact of digest sha256:H a signature image at
// the tag sha256-H.sig in the same repository, each of whose layers is a
// simple-signing payload naming the digest, with the signature in the
// layer's dev.cosignproject.cosign/signature annotation. So cosign verifies
// what distgen signs, distgen verifies what cosign signs, and Flux's
// source-controller (verify.provider: cosign) accepts either. No
// transparency log is used: air-gapped sites have none.
package sign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// What cosign names and writes.
const (
	// PrivateKeyType is the PEM type of an encrypted private key;
	// legacyPrivateKeyType is what older cosign releases wrote.
	PrivateKeyType       = "ENCRYPTED SIGSTORE PRIVATE KEY"
	legacyPrivateKeyType = "ENCRYPTED COSIGN PRIVATE KEY"
	// PublicKeyType is the PEM type of a public key (PKIX).
	PublicKeyType = "PUBLIC KEY"
	// SignatureAnnotation holds a layer's base64 signature.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// PayloadMediaType is the media type of a signature layer.
	PayloadMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// payloadType is critical.type of a payload.
	payloadType = "cosign container image signature"
	// PasswordEnv holds the private key's password, as for cosign.
	PasswordEnv = "COSIGN_PASSWORD"
)

// scrypt parameters cosign uses for new keys (N = 2^16, r = 8, p = 1).
const (
	scryptN   = 1 << 16
	scryptR   = 8
	scryptP   = 1
	saltSize  = 32
	boxKey    = 32
	nonceSize = 24
)

// sealed is the JSON body of an encrypted private key PEM.
type sealed struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// GenerateKeyPair makes an ECDSA P-256 key pair and returns the private
// key as an encrypted PEM (with password) and the public key as a PEM.
func GenerateKeyPair(password []byte) (private, public []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	var s sealed
	s.KDF.Name = "scrypt"
	s.KDF.Params.N, s.KDF.Params.R, s.KDF.Params.P = scryptN, scryptR, scryptP
	s.KDF.Salt = make([]byte, saltSize)
	s.Cipher.Name = "nacl/secretbox"
	s.Cipher.Nonce = make([]byte, nonceSize)
	if _, err := rand.Read(s.KDF.Salt); err != nil {
		return nil, nil, err
	}
	if _, err := rand.Read(s.Cipher.Nonce); err != nil {
		return nil, nil, err
	}
	k, err := scrypt.Key(password, s.KDF.Salt, scryptN, scryptR, scryptP, boxKey)
	if err != nil {
		return nil, nil, err
	}
	var kb [boxKey]byte
	var nb [nonceSize]byte
	copy(kb[:], k)
	copy(nb[:], s.Cipher.Nonce)
	s.Ciphertext = secretbox.Seal(nil, der, &nb, &kb)
	body, err := json.Marshal(s)
	if err != nil {
		return nil, nil, err
	}
	pub, err := MarshalPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyType, Bytes: body}), pub, nil
}

// MarshalPublicKey encodes a public key as cosign writes cosign.pub.
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyType, Bytes: der}), nil
}

// ErrBadPassword is returned when a private key does not open with the
// password given.
var ErrBadPassword = errors.New("the private key does not open with this password (" + PasswordEnv + ")")

// PrivateKey decrypts an encrypted private key PEM with password.
func PrivateKey(pemBytes, password []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM file")
	}
	if block.Type != PrivateKeyType && block.Type != legacyPrivateKeyType {
		return nil, fmt.Errorf("PEM type %q: want %q, as cosign generate-key-pair writes", block.Type, PrivateKeyType)
	}
	var s sealed
	if err := json.Unmarshal(block.Bytes, &s); err != nil {
		return nil, fmt.Errorf("encrypted key: %w", err)
	}
	if s.KDF.Name != "scrypt" || s.Cipher.Name != "nacl/secretbox" || len(s.Cipher.Nonce) != nonceSize {
		return nil, fmt.Errorf("encrypted key: kdf %q, cipher %q: want scrypt and nacl/secretbox", s.KDF.Name, s.Cipher.Name)
	}
	k, err := scrypt.Key(password, s.KDF.Salt, s.KDF.Params.N, s.KDF.Params.R, s.KDF.Params.P, boxKey)
	if err != nil {
		return nil, fmt.Errorf("encrypted key: %w", err)
	}
	var kb [boxKey]byte
	var nb [nonceSize]byte
	copy(kb[:], k)
	copy(nb[:], s.Cipher.Nonce)
	der, ok := secretbox.Open(nil, s.Ciphertext, &nb, &kb)
	if !ok {
		return nil, ErrBadPassword
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key: only ECDSA keys are supported", key)
	}
	return ec, nil
}

// PublicKey decodes a public key PEM.
func PublicKey(pemBytes []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != PublicKeyType {
		return nil, fmt.Errorf("not a %q PEM file", PublicKeyType)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T key: only ECDSA keys are supported", key)
	}
	return ec, nil
}

// Tag is the tag of the signatures of the artifact with digest d.
func Tag(d v1.Hash) string { return d.Algorithm + "-" + d.Hex + ".sig" }

// payload is the simple-signing payload cosign signs.
type payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// Sign signs the artifact with digest d in repository repo (host/path, the
// payload's docker-reference) and returns the payload and its signature.
func Sign(key *ecdsa.PrivateKey, repo string, d v1.Hash) (body, sig []byte, err error) {
	var p payload
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = d.String()
	p.Critical.Type = payloadType
	if body, err = json.Marshal(p); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(body)
	if sig, err = ecdsa.SignASN1(rand.Reader, key, sum[:]); err != nil {
		return nil, nil, err
	}
	return body, sig, nil
}

// Append returns the signature image base (nil for none yet) with one
// more signature layer, as cosign appends to the .sig tag. A signature
// the image already holds is not added twice.
func Append(base v1.Image, body, sig []byte) (v1.Image, error) {
	encoded := base64.StdEncoding.EncodeToString(sig)
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	} else if m, err := base.Manifest(); err == nil {
		for _, l := range m.Layers {
			if l.Annotations[SignatureAnnotation] == encoded {
				return base, nil
			}
		}
	}
	layer := static.NewLayer(body, PayloadMediaType)
	return mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: map[string]string{SignatureAnnotation: encoded}})
}

// ErrNoSignature is returned when an artifact has no signature that the
// key made.
var ErrNoSignature = errors.New("no signature by this key")

// Verify checks that sigs (the image at an artifact's .sig tag) holds a
// signature by pub over a payload naming digest d. Payloads are checked
// against their layer's digest; the docker-reference is not compared, so
// a release verifies under any mirror's name.
func Verify(pub *ecdsa.PublicKey, sigs v1.Image, d v1.Hash) error {
	m, err := sigs.Manifest()
	if err != nil {
		return err
	}
	var problems []string
	for _, desc := range m.Layers {
		if desc.MediaType != PayloadMediaType {
			continue
		}
		raw, ok := desc.Annotations[SignatureAnnotation]
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			problems = append(problems, "a signature that is not base64")
			continue
		}
		layer, err := sigs.LayerByDigest(desc.Digest)
		if err != nil {
			return err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(body); "sha256:"+hex.EncodeToString(sum[:]) != desc.Digest.String() {
			problems = append(problems, "a payload that does not match its digest")
			continue
		}
		sum := sha256.Sum256(body)
		if !ecdsa.VerifyASN1(pub, sum[:], sig) {
			continue // another key's signature
		}
		var p payload
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&p); err != nil || p.Critical.Type != payloadType {
			problems = append(problems, "a signed payload that is not a cosign image signature")
			continue
		}
		if p.Critical.Image.DockerManifestDigest != d.String() {
			problems = append(problems, fmt.Sprintf("a signature by this key of %s, not of %s", p.Critical.Image.DockerManifestDigest, d))
			continue
		}
		return nil
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w for %s (%s)", ErrNoSignature, d, strings.Join(problems, "; "))
	}
	return fmt.Errorf("%w for %s", ErrNoSignature, d)
}
