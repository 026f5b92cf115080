package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
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
//
// A Registry keeps, per repository, the authenticated transport it writes
// through (one ping and one token for a repository's tag lookup and its
// write), and what each tag lookup found, so that a write after a lookup
// does not ask for the tag again.
type Registry struct {
	prefix string
	opts   options

	mu         sync.Mutex
	transports map[string]*repoTransport
	looked     map[string]string // "REPO:TAG" → digest Tagged found ("" for none)
}

// repoTransport is one repository's authenticated transport, made on first
// use; a failure is not kept, so the next call tries again.
type repoTransport struct {
	mu sync.Mutex
	rt http.RoundTripper
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
		return nil, &TargetError{fmt.Sprintf("registry prefix %q: %v", prefix, err)}
	}
	if o.plainHTTP && !IsLoopback(hostOf(prefix)) {
		return nil, &TargetError{fmt.Sprintf("plain HTTP is only for loopback registries, not %s", hostOf(prefix))}
	}
	o.transport = &schemeGuard{base: o.transport, plain: o.plainHTTP}
	return &Registry{prefix: prefix, opts: o, transports: map[string]*repoTransport{}, looked: map[string]string{}}, nil
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

// retryStatusCodes are the answers a request is retried on.
var retryStatusCodes = []int{http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// retryable reports whether a failed request is worth another try: an
// answer the registry marks as temporary (the status codes above), a
// timeout, or a connection dropped or cut short (go-containerregistry's own
// rule). A context that ran out is not retried.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	if t, ok := err.(interface{ Temporary() bool }); ok && t.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// retrying retries a request that failed for a reason worth another try
// (retryable, or an answer with one of retryStatusCodes), waiting as the
// backoff says, or as long as a 429 or 503's Retry-After asks (up to a
// minute). A request with a body is sent again only when its body can be
// had again (GetBody), which go-containerregistry's own retrying
// transport does not do: it would send an empty body.
type retrying struct {
	base    http.RoundTripper
	backoff remote.Backoff
}

// maxRetryAfter bounds how long a Retry-After makes a request wait.
const maxRetryAfter = time.Minute

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	b := t.backoff
	for {
		resp, err := t.base.RoundTrip(req)
		again := retryable(err)
		if err == nil {
			again = slices.Contains(retryStatusCodes, resp.StatusCode)
		}
		replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if !again || !replayable || b.Steps <= 1 {
			return resp, err
		}
		wait := b.Step()
		if resp != nil {
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = max(wait, min(time.Duration(s)*time.Second, maxRetryAfter))
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// remoteOptions are the options of one read.
func (r *Registry) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.opts.keychain),
		remote.WithTransport(r.opts.transport),
		remote.WithRetryBackoff(r.opts.backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithUserAgent("distgen"),
	}
}

// writeOptions are the options of one lookup or write in repo: its shared
// transport, already authenticated for pushing.
func (r *Registry) writeOptions(ctx context.Context, repo name.Repository) ([]remote.Option, error) {
	rt, err := r.transport(ctx, repo)
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(rt),
		remote.WithRetryBackoff(r.opts.backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}, nil
}

// transport returns repo's authenticated transport for pushing, made once:
// retries, the user agent and the upload counter under go-containerregistry's
// authentication. Being a *transport.Wrapper, go-containerregistry uses it
// as it is, without pinging the registry again.
func (r *Registry) transport(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	r.mu.Lock()
	e := r.transports[repo.String()]
	if e == nil {
		e = &repoTransport{}
		r.transports[repo.String()] = e
	}
	r.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rt != nil {
		return e.rt, nil
	}
	auth, err := authn.Resolve(ctx, r.opts.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo, err)
	}
	var base http.RoundTripper = &countingTransport{base: r.opts.transport}
	base = &retrying{base: base, backoff: r.opts.backoff}
	base = transport.NewUserAgent(base, "distgen")
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, base, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return nil, err
	}
	e.rt = rt
	return rt, nil
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
	var c counts
	ctx = context.WithValue(ctx, countsKey{}, &c)
	opts, err := r.writeOptions(ctx, ref.Context())
	if err != nil {
		return res, fmt.Errorf("pushing %s: %w", ref, err)
	}
	r.mu.Lock()
	held, looked := r.looked[ref.String()]
	r.mu.Unlock()
	if looked && held != d.String() {
		// Tagged has just seen the tag elsewhere: send the blobs the
		// registry lacks and the manifest, without asking for the tag again.
		err = r.putImage(ctx, ref, img, opts)
	} else {
		// go-containerregistry asks for the tag first and writes nothing
		// when it already points at this digest.
		err = remote.Write(ref, img, opts...)
	}
	if err != nil {
		return res, fmt.Errorf("pushing %s: %w", ref, err)
	}
	// No manifest sent means skipped.
	res.Bytes = c.blobBytes.Load()
	res.Skipped = c.manifests.Load() == 0
	if !res.Skipped {
		r.mu.Lock()
		r.looked[ref.String()] = d.String()
		r.mu.Unlock()
	}
	return res, nil
}

// putImage uploads img's config and layers concurrently (each asked for
// first, and sent only when the registry lacks it), then its manifest.
func (r *Registry) putImage(ctx context.Context, ref name.Tag, img v1.Image, opts []remote.Option) error {
	rt, err := r.transport(ctx, ref.Context())
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt}
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range append(layers, cfg) {
		g.Go(func() error {
			return uploadBlob(gctx, client, ref.Context(), l)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	p, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	return p.Put(ctx, ref, img)
}

// uploadBlob sends one blob to repo unless the registry has it: a HEAD,
// then a monolithic upload (a POST for the upload's location, and one PUT
// of the whole blob with its digest), which every registry of the OCI
// distribution spec takes. go-containerregistry sends a blob in three
// requests (POST, PATCH, PUT); this saves one per blob.
func uploadBlob(ctx context.Context, client *http.Client, repo name.Repository, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	base := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/blobs/"}
	do := func(method, u string, body []byte, want ...int) (*http.Response, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if err := transport.CheckError(resp, want...); err != nil {
			return nil, err
		}
		return resp, nil
	}
	head := base
	head.Path += d.String()
	if _, err := do(http.MethodHead, head.String(), nil, http.StatusOK); err == nil {
		return nil
	} else if te := (*transport.Error)(nil); !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
		return err
	}
	start := base
	start.Path += "uploads/"
	resp, err := do(http.MethodPost, start.String(), nil, http.StatusAccepted)
	if err != nil {
		return err
	}
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("blob upload of %s: %w", d, err)
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	_, err = do(http.MethodPut, loc.String(), body, http.StatusCreated)
	return err
}

// Tagged implements Publisher.
func (r *Registry) Tagged(ctx context.Context, repo, tag string) (string, error) {
	ref, err := r.tag(repo, tag)
	if err != nil {
		return "", err
	}
	opts, err := r.writeOptions(ctx, ref.Context())
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	}
	held := ""
	desc, err := remote.Head(ref, opts...)
	var te *transport.Error
	switch {
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
	case err != nil:
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	default:
		held = desc.Digest.String()
	}
	r.mu.Lock()
	r.looked[ref.String()] = held
	r.mu.Unlock()
	return held, nil
}

// Resolve returns the digest repo:tag points at.
func (r *Registry) Resolve(ctx context.Context, repo, tag string) (v1.Hash, error) {
	ref, err := r.tag(repo, tag)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(ref, r.remoteOptions(ctx)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return desc.Digest, nil
}

// counts are what one write uploaded: blob bytes and manifests.
type counts struct{ blobBytes, manifests atomic.Int64 }

// countsKey carries a write's *counts in its requests' context.
type countsKey struct{}

// countingTransport counts, into the *counts of the request's context, the
// bytes of blob upload request bodies and the manifests sent.
type countingTransport struct{ base http.RoundTripper }

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n, _ := req.Context().Value(countsKey{}).(*counts)
	if n == nil {
		return t.base.RoundTrip(req)
	}
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
		n.manifests.Add(1)
	}
	if req.Body != nil && strings.Contains(req.URL.Path, "/blobs/uploads/") && (req.Method == http.MethodPatch || req.Method == http.MethodPut || req.Method == http.MethodPost) {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: &n.blobBytes}
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

// Transport is the HTTP transport distgen reaches registries through:
// go-containerregistry's, TLS verified, with one rule on top (see
// schemeGuard). plainHTTP is --plain-http.
func Transport(plainHTTP bool) http.RoundTripper {
	return &schemeGuard{base: remote.DefaultTransport, plain: plainHTTP}
}

// schemeGuard holds every command to one rule: HTTPS, unless --plain-http
// was given (which only loopback registries may be). go-containerregistry
// falls back to plain HTTP by itself for loopback and private-network
// hosts; distgen does not, so that what a command resolves with is what
// it writes into Flux objects, and no credential goes out in the clear
// unasked.
type schemeGuard struct {
	base  http.RoundTripper
	plain bool
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && (!g.plain || !IsLoopback(req.URL.Host)) {
		if req.Body != nil {
			req.Body.Close()
		}
		if g.plain {
			return nil, fmt.Errorf("%s: plain HTTP is only for loopback registries", req.URL.Host)
		}
		return nil, fmt.Errorf("%s speaks plain HTTP: distgen uses HTTPS unless told --plain-http (for a loopback registry only)", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// IsLoopback reports whether a registry host (HOST or HOST:PORT) is on
// this machine, the only place plain HTTP is allowed.
func IsLoopback(host string) bool {
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "[::1]" || strings.HasPrefix(host, "[::1]:")
}
