package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Option configures a registry publisher.
type Option func(*options) error

type options struct {
	plainHTTP bool
	keychain  authn.Keychain
	transport http.RoundTripper
	backoff   remote.Backoff
}

// WithPlainHTTP talks HTTP instead of HTTPS. Only loopback registries are
// allowed: anything else would send content and credentials in the clear.
func WithPlainHTTP(on bool) Option {
	return func(o *options) error { o.plainHTTP = on; return nil }
}

// WithKeychain sets where credentials come from (default: the Docker config
// and its credential helpers).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithTransport sets the HTTP transport (default: go-containerregistry's,
// TLS verified).
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithBackoff sets how failed requests are retried.
func WithBackoff(b remote.Backoff) Option {
	return func(o *options) error {
		if b.Steps < 1 {
			return errors.New("backoff needs at least one step")
		}
		o.backoff = b
		return nil
	}
}

// DefaultBackoff retries 5xx, 429 and dropped connections five times over
// about six seconds.
var DefaultBackoff = remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 6}

// Registry publishes to an OCI registry under HOST/PREFIX.
type Registry struct {
	prefix string
	opts   options
}

// NewRegistry returns a publisher for HOST/PREFIX.
func NewRegistry(prefix string, opts ...Option) (*Registry, error) {
	o := options{keychain: authn.DefaultKeychain, transport: remote.DefaultTransport, backoff: DefaultBackoff}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if _, err := name.NewRepository(prefix + "/x"); err != nil {
		return nil, fmt.Errorf("registry prefix %q: %w", prefix, err)
	}
	if o.plainHTTP && !IsLoopback(hostOf(prefix)) {
		return nil, fmt.Errorf("plain HTTP is only for loopback registries, not %s", hostOf(prefix))
	}
	return &Registry{prefix: prefix, opts: o}, nil
}

// Ref implements Publisher.
func (r *Registry) Ref(repo, tag string) string { return r.prefix + "/" + repo + ":" + tag }

func (r *Registry) tag(repo, tag string) (name.Tag, error) {
	var nopts []name.Option
	if r.opts.plainHTTP {
		nopts = append(nopts, name.Insecure)
	}
	return name.NewTag(r.Ref(repo, tag), nopts...)
}

// remoteOptions are the options of one operation; counter, when set,
// counts what it uploads.
func (r *Registry) remoteOptions(ctx context.Context, counter *counts) []remote.Option {
	rt := r.opts.transport
	if counter != nil {
		rt = &countingTransport{base: rt, n: counter}
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.opts.keychain),
		remote.WithTransport(rt),
		remote.WithRetryBackoff(r.opts.backoff),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		remote.WithUserAgent("distgen"),
	}
}

// Write implements Publisher: it skips the upload when the tag already
// points at this digest; blobs the registry has are not sent again.
func (r *Registry) Write(ctx context.Context, repo, tag string, img v1.Image) (Result, error) {
	ref, err := r.tag(repo, tag)
	if err != nil {
		return Result{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	res := Result{Ref: ref.String(), Digest: d.String()}
	// go-containerregistry asks for the tag first and writes nothing when
	// it already points at this digest; no manifest sent means skipped.
	var c counts
	if err := remote.Write(ref, img, r.remoteOptions(ctx, &c)...); err != nil {
		return res, fmt.Errorf("pushing %s: %w", ref, err)
	}
	res.Bytes = c.blobBytes.Load()
	res.Skipped = c.manifests.Load() == 0
	return res, nil
}

// Tagged implements Publisher.
func (r *Registry) Tagged(ctx context.Context, repo, tag string) (string, error) {
	ref, err := r.tag(repo, tag)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(ref, r.remoteOptions(ctx, nil)...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

// Resolve returns the digest repo:tag points at.
func (r *Registry) Resolve(ctx context.Context, repo, tag string) (v1.Hash, error) {
	ref, err := r.tag(repo, tag)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(ref, r.remoteOptions(ctx, nil)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return desc.Digest, nil
}

// counts are what one write uploaded: blob bytes and manifests.
type counts struct{ blobBytes, manifests atomic.Int64 }

// countingTransport counts the bytes of blob upload request bodies and the
// manifests sent.
type countingTransport struct {
	base http.RoundTripper
	n    *counts
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
		t.n.manifests.Add(1)
	}
	if req.Body != nil && strings.Contains(req.URL.Path, "/blobs/uploads/") && (req.Method == http.MethodPatch || req.Method == http.MethodPut || req.Method == http.MethodPost) {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: &t.n.blobBytes}
	}
	return t.base.RoundTrip(req)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func hostOf(prefix string) string {
	host, _, _ := strings.Cut(prefix, "/")
	return host
}

// IsLoopback reports whether a registry host (HOST or HOST:PORT) is on
// this machine, the only place plain HTTP is allowed.
func IsLoopback(host string) bool {
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "[::1]" || strings.HasPrefix(host, "[::1]:")
}
