package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/store"
)

// Whatever a client asks (method, path, Range), serve answers without
// panicking and without a 5xx, refuses every write, and what it serves as
// a blob hashes to the digest it was asked by.
func FuzzServeRequests(f *testing.F) {
	dir := f.TempDir()
	l, err := publish.NewLayout(dir)
	if err != nil {
		f.Fatal(err)
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := l.Write(context.Background(), "charts/a", "1.0.0", img); err != nil {
		f.Fatal(err)
	}
	h, _, err := Handler(store.Dir(dir), "p")
	if err != nil {
		f.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	d, _ := img.Digest()
	blob := m.Layers[0].Digest.String()
	f.Add("GET", "/v2/p/charts/a/manifests/1.0.0", "")
	f.Add("HEAD", "/v2/p/charts/a/manifests/"+d.String(), "")
	f.Add("GET", "/v2/p/charts/a/blobs/"+blob, "bytes=0-10")
	f.Add("GET", "/v2/p/charts/a/blobs/"+blob, "bytes=5000-")
	f.Add("PUT", "/v2/p/charts/a/manifests/1.0.0", "")
	f.Add("POST", "/v2/p/charts/a/blobs/uploads/", "")
	f.Add("GET", "/v2/../../etc/passwd", "")
	f.Add("GET", "/v2/p/charts/a/tags/list?n=1&last=zz", "")
	f.Add("DELETE", "/v2/p/charts/a/blobs/"+blob, "")
	f.Fuzz(func(t *testing.T, method, target, rng string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Method, req.URL, req.RequestURI = method, u, target
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("%s %s (Range %q): %d %s", method, target, rng, rec.Code, rec.Body.String())
		}
		if method != http.MethodGet && method != http.MethodHead && rec.Code < 400 {
			t.Errorf("%s %s: %d, a read-only registry refuses it", method, target, rec.Code)
		}
		if method == http.MethodGet && rec.Code == http.StatusOK && strings.Contains(u.Path, "/blobs/sha256:") {
			want, err := v1.NewHash(u.Path[strings.LastIndex(u.Path, "/")+1:])
			if err != nil {
				return
			}
			sum := sha256.Sum256(rec.Body.Bytes())
			if hex.EncodeToString(sum[:]) != want.Hex {
				t.Errorf("GET %s served content of another digest", target)
			}
		}
	})
}
