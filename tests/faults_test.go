package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/publish"
	faultproxy "github.com/distgen/distgen/tests/faults"
)

// faultRuns and faultRate size the fault runs of make test: at least 20
// runs and 1,000 injected faults (the test fails with fewer).
const (
	faultRuns = 20
	faultRate = 0.2
)

// Every operation that writes to or reads from a registry (push, mirror
// in and out, promote, bootstrap's resolve) is run through a proxy that
// injects faults into a fifth of the requests: resets, 5xx, 429, stalls,
// bodies cut short, bodies that do not match their digest. Seeded, so a
// failing run is run again exactly. An operation may fail under faults,
// but it never leaves a tag pointing at content that is not whole: after
// each, the release's top tag either is absent or its whole closure is
// there and verifies. Rerun without faults, it converges: every tag
// resolves to its digest and every artifact verifies.
func TestFaultRuns(t *testing.T) {
	start := time.Now()
	fast := remote.Backoff{Duration: time.Millisecond, Factor: 1.5, Jitter: 0.1, Steps: 6}
	saved := publish.DefaultBackoff
	publish.DefaultBackoff = fast
	t.Cleanup(func() { publish.DefaultBackoff = saved })
	ctx := context.Background()

	origin, _, digests, _ := mirrorFixture(t)
	demo, demoRes := build(t, repoRoot, "demo")
	pushed := map[string]string{"bundles/demo:0.1.0": demoRes.Release.Artifact.Digest}
	for _, c := range demoRes.Release.Components {
		pushed[c.Chart.Repository+":"+c.Chart.Tag] = c.Chart.Digest
	}
	fig := faultproxy.Figures{Faults: map[string]int{}}
	for run := range faultRuns {
		var proxies []*faultproxy.Proxy
		faulty := func() string {
			var p *faultproxy.Proxy
			host := newRegistry(t, func(h http.Handler) http.Handler {
				p = faultproxy.New(h, uint64(run*8+len(proxies)+1), faultRate)
				if os.Getenv("DISTGEN_FAULT_LOG") != "" {
					p.Log = func(req *http.Request, k faultproxy.Kind) { t.Logf("%s %s %s %s", req.Host, req.Method, req.URL, k) }
				}
				return p
			})
			proxies = append(proxies, p)
			return host
		}
		staging, site, prod, fresh := faulty(), faulty(), faulty(), faulty()
		ops := []struct {
			what   string
			host   string // where the operation writes, checked after it
			tags   map[string]string
			top    string // the tag written last
			proxys []*faultproxy.Proxy
			run    func() error
		}{
			{"mirror origin -> staging", staging, digests, "bundles/demo:0.1.0", proxies[:1], func() error {
				_, err := (&action.Mirror{From: "oci://" + hostOf(origin) + "/distgen/bundles/demo:0.1.0", To: "oci://" + staging + "/distgen", PlainHTTP: true, Options: []publish.Option{publish.WithBackoff(fast)}}).Run(ctx)
				return err
			}},
			{"mirror staging -> site", site, digests, "bundles/demo:0.1.0", proxies[:2], func() error {
				_, err := (&action.Mirror{From: "oci://" + staging + "/distgen/bundles/demo:0.1.0", To: "oci://" + site + "/distgen", PlainHTTP: true, Options: []publish.Option{publish.WithBackoff(fast)}}).Run(ctx)
				return err
			}},
			{"promote site -> prod", prod, digests, "bundles/demo:0.1.0", proxies[1:3], func() error {
				_, err := (&action.Promote{From: "oci://" + site + "/distgen/bundles/demo:0.1.0", To: "oci://" + prod + "/distgen", PlainHTTP: true}).Run(ctx)
				return err
			}},
			{"bootstrap resolve from prod", prod, digests, "bundles/demo:0.1.0", proxies[2:3], func() error {
				out, err := (&action.Bootstrap{From: "oci://" + prod + "/distgen/bundles/demo:0.1.0", PlainHTTP: true}).Run(ctx)
				if err == nil && !strings.Contains(string(out), digests["bundles/demo:0.1.0"]) {
					return fmt.Errorf("bootstrap pinned another digest:\n%s", out)
				}
				return err
			}},
			{"push demo -> fresh", fresh, pushed, "bundles/demo:0.1.0", proxies[3:4], func() error {
				_, err := push(t, demo, "oci://"+fresh+"/distgen", publish.WithBackoff(fast))
				return err
			}},
		}
		for _, op := range ops {
			fig.Operations++
			for _, p := range op.proxys {
				p.Enable(true)
			}
			err := op.run()
			for _, p := range op.proxys {
				p.Enable(false)
			}
			if err != nil {
				fig.Failed++
			}
			// Under faults or not: the top tag is absent or whole.
			if resolves(op.host, op.top) {
				if bad := wholeRelease(t, op.host, op.tags); bad != "" {
					fig.Dangling++
					t.Errorf("run %d, %s (%v): the top tag is written, but %s", run, op.what, err, bad)
				}
			}
			if err := op.run(); err != nil {
				t.Fatalf("run %d, %s: does not converge without faults: %v", run, op.what, err)
			}
			if bad := wholeRelease(t, op.host, op.tags); bad != "" {
				t.Fatalf("run %d, %s: after a clean rerun, %s", run, op.what, bad)
			}
			fig.Converged++
			fig.Tags += len(op.tags)
		}
		for _, p := range proxies {
			counts, reqs := p.Counts()
			for k, v := range counts {
				fig.Faults[string(k)] += v
				fig.Injected += v
			}
			fig.Requests += reqs
		}
		fig.Runs++
	}
	fig.Seconds = time.Since(start).Seconds()
	t.Logf("fault runs: %d runs, %d operations (%d failed under faults), %d converged, %d injected faults in %d requests %v, %d tags checked, %d dangling, %.1f s",
		fig.Runs, fig.Operations, fig.Failed, fig.Converged, fig.Injected, fig.Requests, fig.Faults, fig.Tags, fig.Dangling, fig.Seconds)
	if fig.Runs < 20 || fig.Injected < 1000 {
		t.Errorf("%d runs and %d faults, want at least 20 and 1000", fig.Runs, fig.Injected)
	}
	if out := os.Getenv("DISTGEN_FAULT_FIGURES"); out != "" {
		b, _ := json.MarshalIndent(fig, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// resolves reports whether host/distgen holds tag.
func resolves(host, tag string) bool {
	r, err := name.ParseReference(host + "/distgen/" + tag)
	if err != nil {
		return false
	}
	_, err = remote.Head(r)
	return err == nil
}

// wholeRelease checks that host/distgen holds every tag at its digest, each
// artifact whole (every blob there and hashing to its digest); it says
// what is wrong, or "".
func wholeRelease(t *testing.T, host string, tags map[string]string) string {
	t.Helper()
	for tag, want := range tags {
		r, err := name.ParseReference(host + "/distgen/" + tag)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(r)
		if err != nil {
			return fmt.Sprintf("%s: %v", tag, err)
		}
		if d, err := img.Digest(); err != nil || d.String() != want {
			return fmt.Sprintf("%s is %v, want %s", tag, d, want)
		}
		if err := validate.Image(img); err != nil {
			return fmt.Sprintf("%s does not verify: %v", tag, err)
		}
	}
	return ""
}
