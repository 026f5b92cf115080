// Package timing adds up the time a build spends in each of its stages, so
// that where a build's time goes can be read off one run (distgen build
// --timings, bench/compare). Stages that run for many charts at once add
// up the time of each, which can exceed the wall time of the build.
//
// It sits below every package of the flow and imports none of them.
package timing

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// The stages of a build, in the order data flows through them.
const (
	Load     = "load"     // the CUE project: schemas, bundles, versions, values files
	Plan     = "plan"     // components, levels, values
	Read     = "read"     // chart directories and upstream archives read from disk
	Key      = "key"      // the build cache's key hashed, its entry read
	Chart    = "chart"    // Helm's loader: Chart.yaml, values, templates, subcharts
	Render   = "render"   // Helm's engine
	Validate = "validate" // rendered objects of Kubernetes' own kinds checked
	Images   = "images"   // the image inventory
	Lint     = "lint"     // Helm lint's rules on the render
	Package  = "package"  // the chart archive (tar, gzip)
	Store    = "store"    // the build cache's entry written
	Check    = "check"    // custom resources checked against the release's CRDs
	Digest   = "digest"   // the chart artifacts' manifests and digests
	Flux     = "flux"     // the Flux objects and the bundle artifact
	Write    = "write"    // the output directory
)

var order = []string{Load, Plan, Read, Key, Chart, Render, Validate, Images, Lint, Package, Store, Check, Digest, Flux, Write}

// Stages adds up durations by stage. A nil *Stages records nothing, so
// code can time itself unconditionally.
type Stages struct {
	mu sync.Mutex
	d  map[string]time.Duration
	n  map[string]int
}

// New returns empty Stages.
func New() *Stages { return &Stages{d: map[string]time.Duration{}, n: map[string]int{}} }

// Since adds the time since start to stage.
func (s *Stages) Since(stage string, start time.Time) {
	if s == nil {
		return
	}
	d := time.Since(start)
	s.mu.Lock()
	s.d[stage] += d
	s.n[stage]++
	s.mu.Unlock()
}

// Stage is one stage's total.
type Stage struct {
	Name string        `json:"name"`
	Time time.Duration `json:"ns"`
	// Count is how many times it ran (once per chart for chart stages).
	Count int `json:"count"`
}

// List returns the stages that ran, in flow order.
func (s *Stages) List() []Stage {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Stage
	for _, name := range order {
		if n := s.n[name]; n > 0 {
			out = append(out, Stage{Name: name, Time: s.d[name], Count: n})
		}
	}
	var other []string
	for name := range s.n {
		if !slices.Contains(order, name) {
			other = append(other, name)
		}
	}
	slices.Sort(other)
	for _, name := range other {
		out = append(out, Stage{Name: name, Time: s.d[name], Count: s.n[name]})
	}
	return out
}

// Print writes the stages as a table, with each one's share of their sum.
func Print(w io.Writer, stages []Stage) {
	var sum time.Duration
	for _, st := range stages {
		sum += st.Time
	}
	fmt.Fprintf(w, "%-9s %10s %6s %6s\n", "stage", "time", "share", "runs")
	for _, st := range stages {
		share := 0.0
		if sum > 0 {
			share = 100 * float64(st.Time) / float64(sum)
		}
		fmt.Fprintf(w, "%-9s %10s %5.1f%% %6d\n", st.Name, st.Time.Round(time.Millisecond), share, st.Count)
	}
	fmt.Fprintf(w, "%-9s %10s\n", "sum", sum.Round(time.Millisecond))
}
