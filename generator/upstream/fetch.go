package upstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/publish"
)

// MaxArchiveSize bounds a downloaded chart archive (compressed); Helm's
// loader bounds the decompressed size.
const MaxArchiveSize = 50 << 20

// ErrDigestMismatch is returned when a chart is not the content pinned for it.
var ErrDigestMismatch = errors.New("digest mismatch")

// ErrUnsafeArchive is returned for an archive distgen will not unpack.
var ErrUnsafeArchive = errors.New("unsafe chart archive")

// ErrUnavailable is a repository that answered it cannot serve now (429
// or 5xx).
var ErrUnavailable = errors.New("repository unavailable")

// Unreachable reports whether err is the network's or the repository's
// doing rather than the project's: no connection, a timeout, a
// certificate not trusted, a 429 or 5xx answer. Those are not the user's
// input (distgen exits 2 for them, 1 for the rest).
func Unreachable(err error) bool {
	var (
		ne  net.Error
		ue  *url.Error
		te  *transport.Error
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		hne x509.HostnameError
	)
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne), errors.As(err, &ue), errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne):
		return true
	case errors.As(err, &te):
		return te.StatusCode == http.StatusTooManyRequests || te.StatusCode >= 500
	}
	return false
}

// Fetcher downloads upstream charts.
type Fetcher struct {
	// HTTP is the client for HTTPS repositories (default: TLS verified).
	HTTP *http.Client
	// Remote are options for OCI registries (default: the Docker keychain).
	Remote []remote.Option
	// PlainHTTP reaches OCI registries over HTTP (tests, loopback mirrors).
	PlainHTTP bool
}

// Fetched is a downloaded chart archive.
type Fetched struct {
	Archive []byte
	// Digest is the sha256 of Archive ("sha256:…").
	Digest string
	// Manifest is the OCI manifest digest, for charts from registries.
	Manifest string
}

// Fetch downloads u.
func (f *Fetcher) Fetch(ctx context.Context, u api.Upstream) (*Fetched, error) {
	var out *Fetched
	var err error
	switch {
	case strings.HasPrefix(u.Repository, "oci://"):
		out, err = f.fetchOCI(ctx, u)
	case strings.HasPrefix(u.Repository, "https://"):
		out, err = f.fetchHTTPS(ctx, u)
	default:
		err = fmt.Errorf("repository %q: want oci:// or https://", u.Repository)
	}
	if err != nil {
		return nil, fmt.Errorf("fetching %s %s from %s: %w", u.Name, u.Version, u.Repository, err)
	}
	return out, nil
}

// nameOptions are the options of a reference in an OCI repository:
// plain HTTP, for loopback registries only.
func (f *Fetcher) nameOptions(repository string) ([]name.Option, error) {
	if !f.PlainHTTP {
		return nil, nil
	}
	host, _, _ := strings.Cut(strings.TrimPrefix(repository, "oci://"), "/")
	if !publish.IsLoopback(host) {
		return nil, fmt.Errorf("plain HTTP is only for loopback registries, not %s", host)
	}
	return []name.Option{name.Insecure}, nil
}

func (f *Fetcher) fetchOCI(ctx context.Context, u api.Upstream) (*Fetched, error) {
	opts, err := f.nameOptions(u.Repository)
	if err != nil {
		return nil, err
	}
	ref, err := name.NewTag(strings.TrimPrefix(u.Repository, "oci://")+"/"+u.Name+":"+strings.ReplaceAll(u.Version, "+", "_"), opts...)
	if err != nil {
		return nil, err
	}
	ropts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(publish.Transport(f.PlainHTTP))}, f.Remote...)
	img, err := remote.Image(ref, ropts...)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	md, err := img.Digest()
	if err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if string(l.MediaType) != api.MediaTypeHelmChart {
			continue
		}
		if l.Size > MaxArchiveSize {
			return nil, fmt.Errorf("%w: %d bytes", ErrUnsafeArchive, l.Size)
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := readLimited(rc)
		if err != nil {
			return nil, err
		}
		return &Fetched{Archive: b, Digest: digest(b), Manifest: md.String()}, nil
	}
	return nil, fmt.Errorf("%s holds no Helm chart layer", ref)
}

func (f *Fetcher) fetchHTTPS(ctx context.Context, u api.Upstream) (*Fetched, error) {
	base := strings.TrimSuffix(u.Repository, "/") + "/"
	index, err := f.get(ctx, base+"index.yaml")
	if err != nil {
		return nil, err
	}
	var idx repoIndex
	if err := yaml.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("index.yaml: %w", err)
	}
	var cv *indexEntry
	for i, v := range idx.Entries[u.Name] {
		if v.Version == u.Version {
			cv = &idx.Entries[u.Name][i]
			break
		}
	}
	if cv == nil || len(cv.URLs) == 0 {
		return nil, fmt.Errorf("index.yaml has no %s %s", u.Name, u.Version)
	}
	chartURL, err := resolveURL(base, cv.URLs[0])
	if err != nil {
		return nil, err
	}
	b, err := f.get(ctx, chartURL)
	if err != nil {
		return nil, err
	}
	out := &Fetched{Archive: b, Digest: digest(b)}
	if cv.Digest != "" && "sha256:"+strings.TrimPrefix(cv.Digest, "sha256:") != out.Digest {
		return nil, fmt.Errorf("%w: the repository's index says %s, the archive is %s", ErrDigestMismatch, cv.Digest, out.Digest)
	}
	return out, nil
}

// Versions lists the versions u's repository offers of u's chart: the
// tags of an OCI repository ("_" read as "+", as helm push writes them),
// or the entries of an HTTPS repository's index.yaml.
func (f *Fetcher) Versions(ctx context.Context, u api.Upstream) ([]string, error) {
	switch {
	case strings.HasPrefix(u.Repository, "oci://"):
		opts, err := f.nameOptions(u.Repository)
		if err != nil {
			return nil, err
		}
		repo, err := name.NewRepository(strings.TrimPrefix(u.Repository, "oci://")+"/"+u.Name, opts...)
		if err != nil {
			return nil, err
		}
		ropts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(publish.Transport(f.PlainHTTP))}, f.Remote...)
		tags, err := remote.List(repo, ropts...)
		if err != nil {
			return nil, err
		}
		for i, t := range tags {
			tags[i] = strings.ReplaceAll(t, "_", "+")
		}
		return tags, nil
	case strings.HasPrefix(u.Repository, "https://"):
		index, err := f.get(ctx, strings.TrimSuffix(u.Repository, "/")+"/index.yaml")
		if err != nil {
			return nil, err
		}
		var idx repoIndex
		if err := yaml.Unmarshal(index, &idx); err != nil {
			return nil, fmt.Errorf("index.yaml: %w", err)
		}
		var out []string
		for _, e := range idx.Entries[u.Name] {
			out = append(out, e.Version)
		}
		return out, nil
	}
	return nil, fmt.Errorf("repository %q: want oci:// or https://", u.Repository)
}

// repoIndex is the part of a Helm repository's index.yaml a fetch reads.
// (Helm's repo package has the full type, but importing it brings Helm's
// plugin runtime and PGP code into the binary for three fields.)
type repoIndex struct {
	Entries map[string][]indexEntry `json:"entries"`
}

type indexEntry struct {
	Version string   `json:"version"`
	URLs    []string `json:"urls"`
	Digest  string   `json:"digest"`
}

// resolveURL resolves a chart URL of an index against the repository.
func resolveURL(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	u := b.ResolveReference(r)
	if u.Scheme != "https" {
		return "", fmt.Errorf("chart URL %s is not HTTPS", u)
	}
	return u.String(), nil
}

func (f *Fetcher) get(ctx context.Context, u string) ([]byte, error) {
	client := f.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, fmt.Errorf("GET %s: %s: %w", u, resp.Status, ErrUnavailable)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return readLimited(resp.Body)
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxArchiveSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxArchiveSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrUnsafeArchive, MaxArchiveSize)
	}
	return b, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Verify checks that archive is a safe chart archive holding u: no links
// or special files (Helm's loader refuses traversal, absolute paths and
// oversized content), the name and version asked for, and the digest pinned
// for it when want is set.
func Verify(archive []byte, u api.Upstream, want string) error {
	if want != "" && digest(archive) != want {
		return fmt.Errorf("%w: %s %s is %s, pinned %s", ErrDigestMismatch, u.Name, u.Version, digest(archive), want)
	}
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeXHeader:
		default:
			return fmt.Errorf("%w: %s is a link or special file", ErrUnsafeArchive, h.Name)
		}
	}
	c, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
	}
	if c.Metadata.Name != u.Name || c.Metadata.Version != u.Version {
		return fmt.Errorf("archive holds %s %s, want %s %s", c.Metadata.Name, c.Metadata.Version, u.Name, u.Version)
	}
	return nil
}
