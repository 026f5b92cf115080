package action

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/sign"
)

// Keygen writes a cosign-compatible key pair: PREFIX.key (encrypted with
// Password, mode 0600) and PREFIX.pub. It never replaces existing files.
type Keygen struct {
	Prefix   string
	Password []byte
}

// Run writes the pair and returns the two paths.
func (k *Keygen) Run(context.Context) (private, public string, err error) {
	prefix := k.Prefix
	if prefix == "" {
		prefix = "cosign"
	}
	private, public = prefix+".key", prefix+".pub"
	for _, p := range []string{private, public} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", &UsageError{Msg: fmt.Sprintf("%s exists: refusing to replace a key", p)}
		}
	}
	priv, pub, err := sign.GenerateKeyPair(k.Password)
	if err != nil {
		return "", "", err
	}
	f, err := os.OpenFile(private, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", err
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		os.Remove(private)
		return "", "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(private)
		return "", "", err
	}
	if err := os.WriteFile(public, pub, 0o644); err != nil {
		os.Remove(private)
		return "", "", err
	}
	return private, public, nil
}

// LoadPrivateKey reads an encrypted private key file with password.
func LoadPrivateKey(path string, password []byte) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--key: %v", err)}
	}
	k, err := sign.PrivateKey(b, password)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--key %s: %v", path, err)}
	}
	return k, nil
}

// LoadPublicKey reads a public key file.
func LoadPublicKey(path string) (*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--key: %v", err)}
	}
	k, err := sign.PublicKey(b)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--key %s: %v", path, err)}
	}
	return k, nil
}

// Sign signs a pushed release: the bundle artifact and every chart
// artifact, each at the target, stored as cosign stores signatures. An
// artifact the target does not hold at the release's digest is not
// signed: nothing is signed then.
type Sign struct {
	Project
	// Release, when set, names the release where it is
	// (oci://HOST/PREFIX/bundles/NAME:VERSION, or oci-layout:DIR with
	// Bundle NAME:VERSION): what its bundle pins is signed there, and From
	// and To are not used.
	Release string
	// From is the build output directory; empty means dist/<bundle>.
	From string
	// To is oci://HOST/PREFIX or oci-layout:DIR, where the release was pushed.
	To        string
	Key       *ecdsa.PrivateKey
	PlainHTTP bool
	Options   []publish.Option
	Log       io.Writer
}

// SignResult lists the signature images written.
type SignResult struct {
	Signatures []publish.Result `json:"signatures"`
}

// Run signs the release.
func (s *Sign) Run(ctx context.Context) (*SignResult, error) {
	if s.Release != "" {
		src, rel, err := openRelease(ctx, s.Release, s.Bundle, s.PlainHTTP)
		if err != nil {
			return nil, err
		}
		src.Close()
		var target string
		switch st := src.(type) {
		case *publish.Registry:
			target = publish.SchemeRegistry + st.Prefix()
		case *publish.Layout:
			target = publish.SchemeLayout + st.Dir()
		default:
			return nil, &UsageError{Msg: fmt.Sprintf("%s: an archive is not signed in place; sign the release where it was pushed, and mirror it", s.Release)}
		}
		var refs []api.ArtifactRef
		for _, a := range append(append([]mirror.Artifact{}, rel.Charts...), rel.Bundle) {
			refs = append(refs, api.ArtifactRef{Repository: a.Repository, Tag: a.Tag, Digest: a.Digest})
		}
		return signArtifacts(ctx, target, s.PlainHTTP, s.Options, s.Key, s.Log, refs)
	}
	dir, err := (&Push{Project: s.Project, From: s.From}).dir()
	if err != nil {
		return nil, err
	}
	rel, err := readRelease(dir)
	if err != nil {
		return nil, err
	}
	return signArtifacts(ctx, s.To, s.PlainHTTP, s.Options, s.Key, s.Log, releaseArtifacts(rel))
}

// releaseArtifacts are a built release's artifacts: every chart, then the
// bundle.
func releaseArtifacts(rel *api.Release) []api.ArtifactRef {
	refs := make([]api.ArtifactRef, 0, len(rel.Components)+1)
	for _, c := range rel.Components {
		refs = append(refs, c.Chart)
	}
	return append(refs, rel.Artifact)
}

// signArtifacts signs each artifact at target, after checking that the
// target holds every one at its digest.
func signArtifacts(ctx context.Context, target string, plainHTTP bool, opts []publish.Option, key *ecdsa.PrivateKey, log io.Writer, refs []api.ArtifactRef) (*SignResult, error) {
	if key == nil {
		return nil, &UsageError{Msg: "no signing key"}
	}
	pub, err := publish.Open(target, append([]publish.Option{publish.WithPlainHTTP(plainHTTP)}, opts...)...)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	defer pub.Close()
	var missing []error
	for _, r := range refs {
		d, err := pub.Tagged(ctx, r.Repository, r.Tag)
		if err != nil {
			return nil, err
		}
		if d != r.Digest {
			missing = append(missing, fmt.Errorf("%s holds %q, not the release's %s: push the release before signing it", pub.Ref(r.Repository, r.Tag), d, r.Digest))
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	res := &SignResult{}
	for _, r := range refs {
		d, err := v1.NewHash(r.Digest)
		if err != nil {
			return nil, err
		}
		base, err := mirror.Signatures(ctx, pub, r.Repository, d)
		if err != nil {
			return nil, fmt.Errorf("reading the signatures of %s: %w", r.Repository, err)
		}
		// The payload names the repository as a registry user addresses it.
		dockerRef := strings.TrimSuffix(pub.Ref(r.Repository, "x"), ":x")
		body, sig, err := sign.Sign(key, dockerRef, d)
		if err != nil {
			return nil, err
		}
		img, err := sign.Append(base, body, sig)
		if err != nil {
			return nil, err
		}
		w, err := pub.Write(ctx, r.Repository, sign.Tag(d), img)
		if err != nil {
			return nil, fmt.Errorf("writing the signature of %s: %w", r.Repository, err)
		}
		if log != nil {
			fmt.Fprintf(log, "signed    %s@%s (%s)\n", pub.Ref(r.Repository, r.Tag), r.Digest, sign.Tag(d))
		}
		res.Signatures = append(res.Signatures, w)
	}
	return res, nil
}

// Verify checks a whole release where it is (a registry, an OCI layout or
// an archive): the bundle artifact and every chart its Flux objects pin
// must carry a signature by the key over its digest.
type Verify struct {
	// From is oci://HOST/PREFIX/bundles/NAME:VERSION, oci-layout:DIR or
	// FILE.tar; Bundle is NAME:VERSION where a layout holds several.
	From, Bundle string
	Key          *ecdsa.PublicKey
	PlainHTTP    bool
}

// Verified is one artifact whose signature checked out.
type Verified struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// VerifyError lists the artifacts of a release whose signature did not
// check out.
type VerifyError struct{ Problems []error }

func (e *VerifyError) Error() string { return errors.Join(e.Problems...).Error() }

// Run verifies the release and lists what it verified, charts first.
func (v *Verify) Run(ctx context.Context) ([]Verified, error) {
	if v.Key == nil {
		return nil, &UsageError{Msg: "no public key"}
	}
	src, rel, err := openRelease(ctx, v.From, v.Bundle, v.PlainHTTP)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []Verified
	var problems []error
	for _, a := range append(append([]mirror.Artifact{}, rel.Charts...), rel.Bundle) {
		d, err := v1.NewHash(a.Digest)
		if err != nil {
			return nil, err
		}
		sigs, err := mirror.Signatures(ctx, src, a.Repository, d)
		if err == nil && sigs == nil {
			err = fmt.Errorf("%w for %s: no %s tag", sign.ErrNoSignature, d, sign.Tag(d))
		}
		if err == nil {
			err = sign.Verify(v.Key, sigs, d)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("%s@%s: %w", a.Repository, a.Digest, err))
			continue
		}
		out = append(out, Verified{Repository: a.Repository, Digest: a.Digest})
	}
	if len(problems) > 0 {
		return out, &VerifyError{Problems: problems}
	}
	return out, nil
}
