// Command gen writes a synthetic distgen project for benchmarks:
//
//	go run ./bench/gen -n 1000 -seed 1 -out /tmp/catalog               # 1000 tiny charts, 20 of them 2–4.7 MB of CRDs
//	go run ./bench/gen -n 100 -shape real -out /tmp/catalog            # 100 charts shaped like a real platform's
//	distgen build -C /tmp/catalog
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/distgen/distgen/bench/catalog"
)

func main() {
	n := flag.Int("n", 100, "number of components")
	seed := flag.Uint64("seed", 1, "seed; the same seed writes the same project")
	out := flag.String("out", "", "directory to write the project into")
	shape := flag.String("shape", "simple", "what the charts look like: simple or real")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gen: -out is required")
		os.Exit(1)
	}
	if err := catalog.WriteOptions(*out, catalog.Options{N: *n, Seed: *seed, Shape: catalog.Shape(*shape)}); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	stats, err := catalog.Measure(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "gen:", stats)
}
