package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/plan"
)

// reportPeak adds the process's peak resident memory to a benchmark.
func reportPeak(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
}

func benchBuild(b *testing.B, dir, bundle string) {
	out := filepath.Join(b.TempDir(), "out")
	a := &action.Build{Project: action.Project{Dir: dir, Bundle: bundle}, Out: out}
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPeak(b)
}

// BenchmarkBuildDemo builds the repository's demo bundle (8 charts).
func BenchmarkBuildDemo(b *testing.B) { benchBuild(b, repoRoot, "demo") }

// BenchmarkBuildCatalog builds generated catalogs of N components over nine
// dependency levels: load, plan, package, lint, render, digests, write.
func BenchmarkBuildCatalog(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			if err := catalog.Write(dir, n, 1); err != nil {
				b.Fatal(err)
			}
			benchBuild(b, dir, "bench")
		})
	}
}

// BenchmarkLoadPlan1000 is the CUE load and the plan alone, 1000 components.
func BenchmarkLoadPlan1000(b *testing.B) {
	dir := b.TempDir()
	if err := catalog.Write(dir, 1000, 1); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := load.Project(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := plan.Build(p.Bundles["bench"]); err != nil {
			b.Fatal(err)
		}
	}
	reportPeak(b)
}
