// Package faults is a fault-injecting proxy for an OCI registry handler,
// for tests: seeded, so a run that fails is run again exactly.
//
// Each request (but the /v2/ ping) meets a fault with probability Rate:
// a connection reset before any answer, a 5xx, a 429 with Retry-After, a
// stall, a body cut short, or a blob or manifest whose bytes do not match
// the digest it is asked by. Counts are kept by kind.
package faults

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Figures are what a series of fault runs did: TestFaultRuns writes them
// (DISTGEN_FAULT_FIGURES) and bench/reliability puts them in
// docs/reliability.md.
type Figures struct {
	Runs       int            `json:"runs"`
	Operations int            `json:"operations"`
	Failed     int            `json:"failedUnderFaults"`
	Converged  int            `json:"converged"`
	Faults     map[string]int `json:"faults"`
	Injected   int            `json:"injected"`
	Requests   int            `json:"requests"`
	Tags       int            `json:"tagsChecked"`
	Dangling   int            `json:"dangling"`
	Seconds    float64        `json:"seconds"`
}

// Kind is one kind of fault.
type Kind string

const (
	Reset     Kind = "reset"      // the connection closed, no answer
	Status5xx Kind = "5xx"        // 500, 502, 503 or 504
	TooMany   Kind = "429"        // 429 with Retry-After: 0
	Stall     Kind = "stall"      // the answer delayed (then served)
	Truncated Kind = "truncated"  // the body cut short, the connection closed
	WrongBody Kind = "wrong-body" // a GET's body with one byte changed
)

// Kinds are the faults, in the order Proxy draws them.
var Kinds = []Kind{Reset, Status5xx, TooMany, Stall, Truncated, WrongBody}

// Proxy injects faults in front of a registry handler.
type Proxy struct {
	next http.Handler
	rate float64
	// Stall is how long a stall lasts (default 20 ms).
	Stall time.Duration
	// Log, when set, is told each request and the fault it met ("" for
	// none), to see what a seed does.
	Log func(req *http.Request, k Kind)

	mu     sync.Mutex
	rng    *rand.Rand
	on     bool
	counts map[Kind]int
	reqs   int
}

// New returns a proxy in front of next that injects a fault into a share
// rate of requests, drawn from a generator seeded with seed.
func New(next http.Handler, seed uint64, rate float64) *Proxy {
	return &Proxy{next: next, rate: rate, Stall: 20 * time.Millisecond, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), on: true, counts: map[Kind]int{}}
}

// Enable turns injection on or off (off: the registry as it is).
func (p *Proxy) Enable(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on = on
}

// Counts returns the faults injected so far, by kind, and the requests seen.
func (p *Proxy) Counts() (map[Kind]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Kind]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out, p.reqs
}

// Total is the number of faults injected so far.
func (p *Proxy) Total() int {
	c, _ := p.Counts()
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// draw picks the fault for one request, or "" for none.
func (p *Proxy) draw(req *http.Request) Kind {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs++
	if !p.on || req.URL.Path == "/v2/" || p.rng.Float64() >= p.rate {
		return ""
	}
	k := Kinds[p.rng.IntN(len(Kinds))]
	if (k == Truncated || k == WrongBody) && req.Method != http.MethodGet {
		k = Status5xx // only a GET has a body to spoil
	}
	p.counts[k]++
	return k
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	k := p.draw(req)
	if p.Log != nil {
		p.Log(req, k)
	}
	switch k {
	case Reset:
		drop(w)
	case Status5xx:
		codes := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
		w.WriteHeader(codes[int(req.ContentLength+int64(len(req.URL.Path)))%len(codes)])
	case TooMany:
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	case Stall:
		time.Sleep(p.Stall)
		p.next.ServeHTTP(w, req)
	case Truncated:
		rec := httptest.NewRecorder()
		p.next.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if rec.Code != http.StatusOK || len(body) < 2 {
			drop(w)
			return
		}
		copyHeader(w, rec)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		drop(w)
	case WrongBody:
		rec := httptest.NewRecorder()
		p.next.ServeHTTP(rec, req)
		body := bytes.Clone(rec.Body.Bytes())
		if rec.Code == http.StatusOK && len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		copyHeader(w, rec)
		w.WriteHeader(rec.Code)
		w.Write(body)
	default:
		p.next.ServeHTTP(w, req)
	}
}

func copyHeader(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
}

// drop closes the connection without (the rest of) an answer. Nothing
// is flushed first: a flush would send a 200 that was never meant.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

// Summary says the counts in one line: "N faults in M requests (kind n, …)".
func Summary(counts map[Kind]int, requests int) string {
	var parts []string
	total := 0
	for k, v := range counts {
		total += v
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d faults in %d requests (%s)", total, requests, strings.Join(parts, ", "))
}
