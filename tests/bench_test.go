package tests

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/render/chart"
	"github.com/distgen/distgen/tests/fixture"
)

// reportPeak adds the process's peak resident memory to a benchmark.
func reportPeak(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
}

// benchBuild times builds of a bundle; with a cache, the first build fills
// it before the clock starts.
func benchBuild(b *testing.B, dir, bundle string, cache *chart.Cache) {
	out := filepath.Join(b.TempDir(), "out")
	a := &action.Build{Project: action.Project{Dir: dir, Bundle: bundle}, Out: out, Cache: cache}
	if cache != nil {
		if _, err := a.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
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
func BenchmarkBuildDemo(b *testing.B) { benchBuild(b, repoRoot, "demo", nil) }

// BenchmarkBuildCatalog builds generated catalogs of N components over nine
// dependency levels: load, plan, package, lint, render, digests, write.
// The simple shape has one tiny chart per component; the real shape has
// charts shaped like a production platform's (bench/catalog.Real).
func BenchmarkBuildCatalog(b *testing.B) {
	for _, tc := range []struct {
		shape catalog.Shape
		n     int
	}{{catalog.Simple, 10}, {catalog.Simple, 100}, {catalog.Simple, 1000}, {catalog.Real, 100}, {catalog.Real, 1000}} {
		b.Run(fmt.Sprintf("%s/n=%d", tc.shape, tc.n), func(b *testing.B) {
			benchBuild(b, shaped(b, tc.shape, tc.n), "bench", nil)
		})
	}
}

func shaped(b *testing.B, shape catalog.Shape, n int) string {
	dir := b.TempDir()
	if err := catalog.WriteOptions(dir, catalog.Options{N: n, Seed: 1, Shape: shape}); err != nil {
		b.Fatal(err)
	}
	return dir
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

// BenchmarkRenderCatalog is the in-memory part of a build of a loaded and
// planned catalog: lint, render and package every chart, the digests and
// the Flux objects; nothing is written and nothing cached.
func BenchmarkRenderCatalog(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			dir := generated(b, n)
			p, err := load.Project(dir)
			if err != nil {
				b.Fatal(err)
			}
			pl, err := plan.Build(p.Bundles["bench"])
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := action.Render(context.Background(), p, pl, action.RenderOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			reportPeak(b)
		})
	}
}

// BenchmarkPush pushes a built release to an in-process registry: a full
// push into an empty registry and a no-op push. Reports blob bytes uploaded
// per push. (TestPushRegistry measures a push after one chart changed.)
func BenchmarkPush(b *testing.B) {
	for _, tc := range []struct {
		name string
		dir  func(b *testing.B) (string, string)
	}{
		{"demo", func(b *testing.B) (string, string) { return fixtureCopy(b, repoRoot), "demo" }},
		{"fixture20", func(b *testing.B) (string, string) { return generated(b, 20), "bench" }},
		{"catalog100", func(b *testing.B) (string, string) { return generated(b, 100), "bench" }},
	} {
		root, bundle := tc.dir(b)
		out := filepath.Join(b.TempDir(), "out")
		if _, err := (&action.Build{Project: action.Project{Dir: root, Bundle: bundle}, Out: out}).Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		pushOnce := func(b *testing.B, host string) int64 {
			res, err := (&action.Push{From: out, To: "oci://" + host + "/bench", PlainHTTP: true}).Run(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			return res.Bytes
		}
		b.Run(tc.name+"/full", func(b *testing.B) {
			var bytes int64
			for b.Loop() {
				b.StopTimer()
				host := benchRegistry(b)
				b.StartTimer()
				bytes = pushOnce(b, host)
			}
			b.ReportMetric(float64(bytes), "bytes/push")
		})
		b.Run(tc.name+"/noop", func(b *testing.B) {
			host := benchRegistry(b)
			pushOnce(b, host)
			var bytes int64
			for b.Loop() {
				bytes = pushOnce(b, host)
			}
			b.ReportMetric(float64(bytes), "bytes/push")
		})
	}
}

func fixtureCopy(b *testing.B, src string) string {
	return fixture.Copy(b, src, projectSources...)
}

func generated(b *testing.B, n int) string {
	dir := b.TempDir()
	if err := catalog.Write(dir, n, 1); err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchRegistry(b *testing.B) string {
	srv := httptest.NewServer(registry.New(registry.Logger(nopLogger())))
	b.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// BenchmarkMirror copies a release whose log shipper pulls a 64 MB image of
// random layers, registry to registry on loopback, and, interleaved with it,
// makes a plain go-containerregistry copy of the same artifacts one by one
// (what a crane copy loop does). Reports each side's MB/s and the median
// over rounds of distgen's throughput over the plain copy's.
func BenchmarkMirror(b *testing.B) {
	images := benchRegistry(b)
	img, err := random.Image(16<<20, 4)
	if err != nil {
		b.Fatal(err)
	}
	ref := images + "/library/big:1.0"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		b.Fatal(err)
	}
	root := fixture.Offline(b, repoRoot)
	demo := filepath.Join(root, "bundles", "demo.cue")
	src, _ := os.ReadFile(demo)
	// The log shipper pulls the big image instead of one from Docker Hub.
	edited := strings.Replace(string(src), "\t\t\twait: false\n", fmt.Sprintf("\t\t\twait: false\n\t\t\tvalues: image: {repository: %q, tag: \"1.0\"}\n", images+"/library/big"), 1)
	if err := os.WriteFile(demo, []byte(edited), 0o644); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out")
	built, err := (&action.Build{Project: action.Project{Dir: root, Bundle: "demo"}, Out: out}).Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	origin := benchRegistry(b)
	if _, err := (&action.Push{From: out, To: "oci://" + origin + "/o", PlainHTTP: true}).Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	// The same artifacts, source and destination path, for the plain copy.
	type pair struct{ from, to string }
	rel := built.Release
	copies := []pair{{origin + "/o/" + rel.Artifact.Repository + ":" + rel.Artifact.Tag, "m/" + rel.Artifact.Repository + ":" + rel.Artifact.Tag}}
	for _, c := range rel.Components {
		copies = append(copies, pair{origin + "/o/" + c.Chart.Repository + ":" + c.Chart.Tag, "m/" + c.Chart.Repository + ":" + c.Chart.Tag})
	}
	for _, i := range rel.Images {
		copies = append(copies, pair{i, ""}) // where distgen mirror puts it
	}
	var size int64
	m, _ := img.Manifest()
	for _, l := range m.Layers {
		size += l.Size
	}
	mirrorOnce := func(dst string) {
		if _, err := (&action.Mirror{From: "oci://" + origin + "/o/bundles/demo:0.1.0", To: "oci://" + dst + "/m", PlainHTTP: true}).Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	plainOnce := func(dst string) {
		for _, c := range copies {
			from, err := name.ParseReference(c.from)
			if err != nil {
				b.Fatal(err)
			}
			target := dst + "/" + c.to
			if c.to == "" {
				if target, err = mirror.RelocatedRef(dst+"/m", c.from); err != nil {
					b.Fatal(err)
				}
			}
			to, err := name.ParseReference(target)
			if err != nil {
				b.Fatal(err)
			}
			desc, err := remote.Get(from)
			if err != nil {
				b.Fatal(err)
			}
			if desc.MediaType.IsIndex() {
				idx, _ := desc.ImageIndex()
				err = remote.WriteIndex(to, idx)
			} else {
				img, _ := desc.Image()
				err = remote.Write(to, img)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	var ratios []float64
	var mirrorTime, plainTime time.Duration
	for i := 0; b.Loop(); i++ {
		timed := func(f func(string)) time.Duration {
			b.StopTimer()
			dst := benchRegistry(b)
			b.StartTimer()
			start := time.Now()
			f(dst)
			return time.Since(start)
		}
		var dm, dp time.Duration
		if i%2 == 0 {
			dm, dp = timed(mirrorOnce), timed(plainOnce)
		} else {
			dp, dm = timed(plainOnce), timed(mirrorOnce)
		}
		mirrorTime += dm
		plainTime += dp
		ratios = append(ratios, float64(dp)/float64(dm))
	}
	sort.Float64s(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "mirror/plain-throughput")
	b.ReportMetric(float64(size)/1e6/(mirrorTime.Seconds()/float64(b.N)), "mirror-MB/s")
	b.ReportMetric(float64(size)/1e6/(plainTime.Seconds()/float64(b.N)), "plain-MB/s")
}

// BenchmarkTenantBuild100 builds a tenant bundle of 100 tenants with three
// app instances each: load, unify every instance's values with its app's
// schema, package the three app charts, render 300 instances, write.
func BenchmarkTenantBuild100(b *testing.B) {
	dir := fixture.Copy(b, repoRoot, "versions.cue", "bundles", "packages", "schemas", "cue.mod")
	if err := os.WriteFile(filepath.Join(dir, catalog.TenantsFile), []byte(catalog.Tenants("load", 100, false)), 0o644); err != nil {
		b.Fatal(err)
	}
	a := &action.TenantBuild{TenantProject: action.TenantProject{Dir: dir, Bundle: "load"}, Out: filepath.Join(b.TempDir(), "out")}
	for b.Loop() {
		res, err := a.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Release.Tenants) != 100 {
			b.Fatalf("%d tenants built", len(res.Release.Tenants))
		}
	}
	reportPeak(b)
}

// BenchmarkRebuildUnchanged rebuilds an unchanged catalog with the chart
// build cache warm: what a release engineer waits for after a change
// elsewhere.
func BenchmarkRebuildUnchanged(b *testing.B) {
	for _, tc := range []struct {
		shape catalog.Shape
		n     int
	}{{catalog.Simple, 100}, {catalog.Real, 100}, {catalog.Real, 1000}} {
		b.Run(fmt.Sprintf("%s/n=%d", tc.shape, tc.n), func(b *testing.B) {
			benchBuild(b, shaped(b, tc.shape, tc.n), "bench", &chart.Cache{Dir: b.TempDir()})
		})
	}
}
