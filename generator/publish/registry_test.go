package publish

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A retried request is sent again whole, body included, and waits as long
// as a 429's Retry-After asks, even when the backoff is shorter.
func TestRetryingResendsBodyAndHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if string(body) != "blob" {
			t.Errorf("attempt %d: body %q", calls.Load()+1, body)
		}
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	rt := &retrying{base: http.DefaultTransport, backoff: remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}}
	req, err := http.NewRequest(http.MethodPut, srv.URL, bytes.NewReader([]byte("blob")))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || calls.Load() != 2 {
		t.Errorf("status %d after %d attempts, want 201 after 2", resp.StatusCode, calls.Load())
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %v, Retry-After asked for 1s", waited)
	}
}

// A request whose body cannot be had again is not retried: it fails with
// the registry's answer rather than sending an empty body.
func TestRetryingLeavesStreamsAlone(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	rt := &retrying{base: http.DefaultTransport, backoff: remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}}
	req, err := http.NewRequest(http.MethodPatch, srv.URL, io.NopCloser(bytes.NewReader([]byte("stream"))))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Errorf("status %d after %d attempts, want 503 after 1", resp.StatusCode, calls.Load())
	}
}
