// Command gen writes a synthetic distgen project for benchmarks:
//
//	go run ./bench/gen -n 1000 -seed 1 -out /tmp/catalog   # 1000 charts, 20 of them 2–6 MB of CRDs
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
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gen: -out is required")
		os.Exit(1)
	}
	if err := catalog.Write(*out, *n, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
