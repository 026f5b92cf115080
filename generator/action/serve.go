package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/serve"
	"github.com/distgen/distgen/generator/store"
)

// Serve serves a release written as an OCI image layout (distgen push
// --to oci-layout:DIR) or as an archive (distgen mirror --to FILE.tar) as a
// read-only registry until its context ends.
type Serve struct {
	// Dir is the OCI layout directory, or a .tar archive of one.
	Dir string
	// Addr is HOST:PORT to listen on.
	Addr string
	// Prefix is the repository prefix artifacts are served under.
	Prefix string
	// TLSCert and TLSKey serve HTTPS; without them only loopback addresses
	// are allowed, as plain HTTP.
	TLSCert, TLSKey string
	// AccessLog, when set, receives one line per request: method, path,
	// status and bytes sent (never a header, so no credential).
	AccessLog io.Writer
	// OnReady, when set, is called with the listening address and the
	// references served, once the registry accepts connections.
	OnReady func(addr string, refs []string)
}

// Run serves until ctx is done.
func (s *Serve) Run(ctx context.Context) error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return &UsageError{Msg: fmt.Sprintf("--addr %q: %v", s.Addr, err)}
	}
	tls := s.TLSCert != "" || s.TLSKey != ""
	if tls && (s.TLSCert == "" || s.TLSKey == "") {
		return &UsageError{Msg: "--tls-cert and --tls-key go together"}
	}
	if !tls && !publish.IsLoopback(host) {
		return &UsageError{Msg: fmt.Sprintf("serving on %s without TLS would send the release in the clear: give --tls-cert and --tls-key, or listen on 127.0.0.1", host)}
	}
	// An archive is read in place: nothing is unpacked.
	src, err := store.Open(s.Dir)
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	defer src.Close()
	h, refs, err := serve.Handler(src, s.Prefix)
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	if s.AccessLog != nil {
		h = accessLog(h, s.AccessLog)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if tls {
			errc <- srv.ServeTLS(l, s.TLSCert, s.TLSKey)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	if s.OnReady != nil {
		s.OnReady(l.Addr().String(), refs)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// accessLog writes a line per request to w once it is answered.
func accessLog(h http.Handler, w io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: rw, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s %s %d %d\n", r.Method, r.URL.Path, rec.status, rec.bytes)
	})
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}
