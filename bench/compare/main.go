// Command compare times distgen against the tools users would otherwise
// run, on the same generated catalog, in one run on one machine: A/B pairs
// interleaved (the order flips every round) and repeated, reported as the
// median of the per-round ratios, with each side's peak resident memory.
//
//	go run ./bench/compare -n 100 -rounds 5 -out docs/benchmarks.md
//	go run ./bench/compare -shape real -n 100 -rounds 3 -out docs/benchmarks.md
//
// Each run writes its own section of the report file, between markers
// that name the shape and size, and leaves the rest of the file alone.
//
// It needs the helm v3 and v4 CLIs ($DISTGEN_HELM3, $DISTGEN_HELM4), crane
// ($DISTGEN_CRANE), the flux CLI ($DISTGEN_FLUX) and a registry process
// (docker-registry, Debian's package of distribution). make bench builds
// the CLIs from the Go module proxy and passes them in.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/bench/catalog"
)

// run is one timed command or loop of commands.
type run struct {
	wall   time.Duration
	peakKB int64
}

// sample is one side's runs over the rounds.
type sample struct {
	name, command string
	runs          []run
}

func (s *sample) add(r run) { s.runs = append(s.runs, r) }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (s *sample) median() time.Duration {
	xs := make([]float64, len(s.runs))
	for i, r := range s.runs {
		xs[i] = float64(r.wall)
	}
	return time.Duration(median(xs))
}

func (s *sample) peakMB() float64 {
	var p int64
	for _, r := range s.runs {
		p = max(p, r.peakKB)
	}
	return float64(p) / 1024
}

// ratio is the median over rounds of other's time over distgen's.
func ratio(distgen, other *sample) float64 {
	xs := make([]float64, min(len(distgen.runs), len(other.runs)))
	for i := range xs {
		xs[i] = float64(other.runs[i].wall) / float64(distgen.runs[i].wall)
	}
	return median(xs)
}

// exe runs one command and returns its wall time and peak memory; output
// goes to stdout when out is nil.
func exe(out io.Writer, bin string, args ...string) (run, error) {
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if out == nil {
		cmd.Stdout = io.Discard
	}
	start := time.Now()
	err := cmd.Run()
	r := run{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakKB = ru.Maxrss
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.Bytes())
	}
	return r, nil
}

// loop runs one command per item, one after the other, as a shell loop would.
func loop[T any](items []T, args func(T) (string, []string)) (run, error) {
	var total run
	for _, it := range items {
		bin, a := args(it)
		r, err := exe(nil, bin, a...)
		if err != nil {
			return total, err
		}
		total.wall += r.wall
		total.peakKB = max(total.peakKB, r.peakKB)
	}
	return total, nil
}

type component struct {
	Name  string `json:"name"`
	Chart struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		Digest     string `json:"digest"`
		File       string `json:"file"`
	} `json:"chart"`
}

type release struct {
	Version    string      `json:"version"`
	Components []component `json:"components"`
	Artifact   struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"artifact"`
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRegistry runs distribution on a loopback port with filesystem storage.
func startRegistry(dir string) (string, func()) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	cfg := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n", filepath.Join(dir, "registry"), addr), 0o644); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfg)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		log.Fatalf("starting the registry (Debian package docker-registry): %v", err)
	}
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatal("the registry did not start")
	return "", nil
}

func tool(env string) string {
	p := os.Getenv(env)
	if p == "" {
		log.Fatalf("$%s is not set (make bench sets it)", env)
	}
	return p
}

func main() {
	n := flag.Int("n", 100, "components in the generated catalog")
	rounds := flag.Int("rounds", 5, "A/B rounds")
	seed := flag.Uint64("seed", 1, "catalog seed")
	only := flag.String("only", "", "run only these comparisons (comma-separated: build,push,mirror)")
	shape := flag.String("shape", "simple", "the catalog's charts: simple (one tiny chart each) or real (shaped like a production platform's)")
	out := flag.String("out", "", "also write the report (markdown) to this file")
	gobench := flag.String("gobench", "", "only put the benchmark lines of this `go test -bench` output into the report's go-bench section")
	flag.Parse()
	log.SetFlags(0)
	if *gobench != "" {
		b, err := os.ReadFile(*gobench)
		if err != nil {
			log.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") {
				lines = append(lines, l)
			}
		}
		rep := fmt.Sprintf("`go test -run '^$' -bench . -benchmem ./tests/...`, on %d CPUs, %s:\n\n```\n%s\n```\n", runtime.NumCPU(), runtime.Version(), strings.Join(lines, "\n"))
		if err := writeReport(*out, "go-bench", rep); err != nil {
			log.Fatal(err)
		}
		return
	}
	helm3, helm4, crane, flux := tool("DISTGEN_HELM3"), tool("DISTGEN_HELM4"), tool("DISTGEN_CRANE"), tool("DISTGEN_FLUX")
	want := func(s string) bool { return *only == "" || slices.Contains(strings.Split(*only, ","), s) }

	work, err := os.MkdirTemp("", "distgen-compare-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	// distgen's build cache, private to this run.
	if err := os.Setenv("DISTGEN_CACHE", filepath.Join(work, "cache")); err != nil {
		log.Fatal(err)
	}
	distgen := filepath.Join(work, "distgen")
	if b, err := exec.Command("go", "build", "-o", distgen, "./cmd/distgen").CombinedOutput(); err != nil {
		log.Fatalf("building distgen: %v\n%s", err, b)
	}
	reg, stop := startRegistry(work)
	defer stop()

	// The image every workload runs, so a mirror has one to copy.
	image := reg + "/upstream/app:1.0.0"
	img, err := random.Image(4<<20, 3)
	if err != nil {
		log.Fatal(err)
	}
	ref, err := name.ParseReference(image, name.Insecure)
	if err != nil {
		log.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		log.Fatal(err)
	}
	proj := filepath.Join(work, "catalog")
	if err := catalog.WriteOptions(proj, catalog.Options{N: *n, Seed: *seed, Image: image, Shape: catalog.Shape(*shape)}); err != nil {
		log.Fatal(err)
	}
	stats, err := catalog.Measure(proj)
	if err != nil {
		log.Fatal(err)
	}
	// One build to learn the charts' versions and fill the build cache;
	// not timed.
	first := filepath.Join(work, "first")
	if _, err := exe(nil, distgen, "build", "-C", proj, "--out", first); err != nil {
		log.Fatal(err)
	}
	var rel release
	if b, err := os.ReadFile(filepath.Join(first, "release.json")); err != nil || json.Unmarshal(b, &rel) != nil {
		log.Fatalf("reading release.json: %v", err)
	}
	comps := rel.Components

	type pair struct {
		what       string
		a          *sample
		b          []*sample
		targetNote string
	}
	var pairs []*pair
	newPair := func(what, target string, a *sample, b ...*sample) *pair {
		p := &pair{what: what, a: a, b: b, targetNote: target}
		pairs = append(pairs, p)
		return p
	}
	sDist := &sample{name: "distgen build", command: "distgen build -C CATALOG --out OUT --no-cache"}
	sRebuild := &sample{name: "distgen build (unchanged)", command: "distgen build -C CATALOG --out OUT  # again, build cache warm, nothing changed"}
	sH3 := &sample{name: "helm v3 package loop", command: "for each chart: helm package packages/system/NAME --version V -d OUT"}
	sH4 := &sample{name: "helm v4 package loop", command: "for each chart: helm package packages/system/NAME --version V -d OUT"}
	sPush := &sample{name: "distgen push", command: "distgen push -C CATALOG --from OUT --to oci://REGISTRY/dg-R --plain-http"}
	sPushNoop := &sample{name: "distgen push (no-op)", command: "the same push again"}
	sHP3 := &sample{name: "helm v3 push + flux push artifact", command: "for each chart: helm push OUT/NAME-V.tgz oci://REGISTRY/h3-R/charts --plain-http; then flux push artifact oci://REGISTRY/h3-R/bundles/bench:V --path OUT/flux --source bench --revision V --insecure-registry"}
	sHP4 := &sample{name: "helm v4 push + flux push artifact", command: "the same with helm v4, to h4-R"}
	sHP3Noop := &sample{name: "helm v3 push + flux push (no-op)", command: "the same loop again"}
	sHP4Noop := &sample{name: "helm v4 push + flux push (no-op)", command: "the same loop again"}
	sMirror := &sample{name: "distgen mirror", command: "distgen mirror --from oci://REGISTRY/dg-R/bundles/bench:V --to oci://REGISTRY/mirror-dg-R --plain-http"}
	sCrane := &sample{name: "crane copy loop", command: "for each chart, the bundle and the image: crane copy --insecure SRC DST"}
	newPair("build", "≥ 10×", sDist, sH3, sH4)
	newPair("rebuild, nothing changed", "< 0.3 s", sRebuild) // no counterpart: the time is the figure
	newPair("push", "≥ 5×", sPush, sHP3, sHP4)
	noop := newPair("no-op push", "0 bytes, < 1 s for 100", sPushNoop, sHP3Noop, sHP4Noop)
	newPair("mirror", "", sMirror, sCrane)
	var noopBytes int64 = -1

	fail := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	timed := func(s *sample, f func() (run, error)) {
		r, err := f()
		fail(err)
		s.add(r)
	}
	for round := range *rounds {
		flip := round%2 == 1
		order := func(fs ...func()) {
			if flip {
				slices.Reverse(fs)
			}
			for _, f := range fs {
				f()
			}
		}
		r := fmt.Sprintf("r%d", round)
		dOut := filepath.Join(work, r, "distgen")
		h3Out, h4Out := filepath.Join(work, r, "helm3"), filepath.Join(work, r, "helm4")
		packageLoop := func(bin, dir string) func() (run, error) {
			return func() (run, error) {
				return loop(comps, func(c component) (string, []string) {
					return bin, []string{"package", filepath.Join(proj, "packages", "system", c.Name), "--version", c.Chart.Tag, "-d", dir}
				})
			}
		}
		if want("build") || want("push") || want("mirror") {
			order(
				func() {
					timed(sDist, func() (run, error) { return exe(nil, distgen, "build", "-C", proj, "--out", dOut, "--no-cache") })
				},
				func() { timed(sH3, packageLoop(helm3, h3Out)) },
				func() { timed(sH4, packageLoop(helm4, h4Out)) },
			)
			timed(sRebuild, func() (run, error) { return exe(nil, distgen, "build", "-C", proj, "--out", dOut) })
		}
		if want("push") || want("mirror") {
			pushLoop := func(bin, dir, prefix string) func() (run, error) {
				return func() (run, error) {
					total, err := loop(comps, func(c component) (string, []string) {
						return bin, []string{"push", filepath.Join(dir, c.Name+"-"+c.Chart.Tag+".tgz"), "oci://" + reg + "/" + prefix + "/charts", "--plain-http"}
					})
					if err != nil {
						return total, err
					}
					f, err := exe(nil, flux, "push", "artifact", "oci://"+reg+"/"+prefix+"/bundles/bench:"+rel.Version,
						"--path", filepath.Join(dOut, "flux"), "--source", "bench", "--revision", rel.Version, "--insecure-registry")
					total.wall += f.wall
					total.peakKB = max(total.peakKB, f.peakKB)
					return total, err
				}
			}
			distgenPush := func(s *sample, rec bool) func() {
				return func() {
					var stdout bytes.Buffer
					timed(s, func() (run, error) {
						return exe(&stdout, distgen, "push", "-C", proj, "--from", dOut, "--to", "oci://"+reg+"/dg-"+r, "--plain-http", "-o", "json")
					})
					if rec {
						var res struct{ Bytes int64 }
						fail(json.Unmarshal(stdout.Bytes(), &res))
						noopBytes = max(noopBytes, res.Bytes)
					}
				}
			}
			// The first push uploads; the second finds everything there.
			for _, s := range [][3]*sample{{sPush, sHP3, sHP4}, {sPushNoop, sHP3Noop, sHP4Noop}} {
				order(
					distgenPush(s[0], s[0] == sPushNoop),
					func() { timed(s[1], pushLoop(helm3, h3Out, "h3-"+r)) },
					func() { timed(s[2], pushLoop(helm4, h4Out, "h4-"+r)) },
				)
			}
		}
		if want("mirror") {
			src := "oci://" + reg + "/dg-" + r
			refs := []string{reg + "/dg-" + r + "/bundles/bench:" + rel.Version, image}
			for _, c := range comps {
				refs = append(refs, reg+"/dg-"+r+"/"+c.Chart.Repository+":"+c.Chart.Tag)
			}
			order(
				func() {
					timed(sMirror, func() (run, error) {
						return exe(nil, distgen, "mirror", "--from", src+"/bundles/bench:"+rel.Version, "--to", "oci://"+reg+"/mirror-dg-"+r, "--plain-http")
					})
				},
				func() {
					timed(sCrane, func() (run, error) {
						return loop(refs, func(ref string) (string, []string) {
							dst := reg + "/mirror-crane-" + r + "/" + strings.SplitN(ref, "/", 2)[1]
							return crane, []string{"copy", "--insecure", ref, dst}
						})
					})
				},
			)
		}
		log.Printf("round %d of %d done", round+1, *rounds)
	}

	// Where distgen's time goes, stage by stage: one cold and one warm
	// build with --timings, after the rounds.
	var stages [2]string
	for i, args := range [][]string{
		{"build", "-C", proj, "--out", filepath.Join(work, "stages"), "--no-cache", "--timings"},
		{"build", "-C", proj, "--out", filepath.Join(work, "stages"), "--timings"},
	} {
		var errb bytes.Buffer
		cmd := exec.Command(distgen, args...)
		cmd.Stderr = &errb
		fail(cmd.Run())
		for _, line := range strings.Split(errb.String(), "\n") {
			if line != "" && !strings.HasPrefix(line, "warning:") && !strings.HasPrefix(line, "wrote ") {
				stages[i] += line + "\n"
			}
		}
	}

	var rep strings.Builder
	fmt.Fprintf(&rep, "Catalog: %d components (seed %d, shape %s): %s; %d rounds, A/B order flipped every round.\n", *n, *seed, *shape, stats, *rounds)
	fmt.Fprintf(&rep, "Machine: %d CPUs, %s, %s/%s. Registry: distribution (docker-registry) on loopback.\n\n", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	rep.WriteString("| comparison | distgen (median) | alternative | alternative (median) | ratio (median of pairs) | peak RSS distgen / alternative | target |\n|---|---|---|---|---|---|---|\n")
	for _, p := range pairs {
		if len(p.a.runs) == 0 {
			continue
		}
		if len(p.b) == 0 {
			fmt.Fprintf(&rep, "| %s | %s | — | — | — | %.0f MB | %s |\n", p.what, p.a.median().Round(time.Millisecond), p.a.peakMB(), p.targetNote)
			continue
		}
		for _, b := range p.b {
			note := p.targetNote
			if p == noop {
				note = fmt.Sprintf("%s (distgen uploaded %d bytes)", note, noopBytes)
			}
			fmt.Fprintf(&rep, "| %s | %s | %s | %s | %.1f× | %.0f MB / %.0f MB | %s |\n", p.what, p.a.median().Round(time.Millisecond),
				b.name, b.median().Round(time.Millisecond), ratio(p.a, b), p.a.peakMB(), b.peakMB(), note)
		}
	}
	rep.WriteString("\nCommands (CATALOG is `go run ./bench/gen -n N -seed S`, REGISTRY the loopback registry, R the round):\n\n")
	for _, p := range pairs {
		for _, s := range append([]*sample{p.a}, p.b...) {
			if len(s.runs) > 0 {
				fmt.Fprintf(&rep, "- %s: `%s`\n", s.name, s.command)
			}
		}
	}
	fmt.Fprintf(&rep, "\nStages of one build, in process (`distgen build --no-cache --timings`, then again with the build cache warm, `distgen build --timings`); the stages of many charts add up the time of each, on %d CPUs:\n\n", runtime.NumCPU())
	fmt.Fprintf(&rep, "```\n# cold\n%s\n# warm\n%s```\n", stages[0], stages[1])
	fmt.Print(rep.String())
	if *out != "" {
		fail(writeReport(*out, fmt.Sprintf("%s n=%d", *shape, *n), rep.String()))
	}
}

// writeReport puts report between the markers of section in the file at
// path (a section per catalog; the rest is prose), or appends the section
// when the file has none, through a temporary file and a rename.
func writeReport(path, section, report string) error {
	begin, end := "<!-- bench/compare "+section+": begin -->", "<!-- bench/compare "+section+": end -->"
	body := begin + "\n" + report + end + "\n"
	if old, err := os.ReadFile(path); err == nil {
		s := string(old)
		if i, j := strings.Index(s, begin), strings.Index(s, end); i >= 0 && j > i {
			body = s[:i] + body + strings.TrimPrefix(s[j+len(end):], "\n")
		} else {
			body = s + "\n" + body
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
