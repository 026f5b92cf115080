// Package catalog writes synthetic distgen projects for benchmarks: N
// components over nine dependency levels, deterministic from a seed, all
// built from one small first-party chart.
package catalog

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Levels is the dependency depth of a generated catalog, as in the
// reference platform.
const Levels = 9

// Options shape a generated catalog.
type Options struct {
	// N is the number of components.
	N int
	// Seed makes the catalog; the same seed writes the same project.
	Seed uint64
	// NoWait makes every release skip waiting for its workloads, for
	// clusters without nodes (the end-to-end tests).
	NoWait bool
	// Version is the distribution version; empty means 1.0.0.
	Version string
}

// Write writes a project of n components into dir.
func Write(dir string, n int, seed uint64) error {
	return WriteOptions(dir, Options{N: n, Seed: seed})
}

// WriteOptions writes a project shaped by o into dir.
func WriteOptions(dir string, o Options) error {
	n, seed := o.N, o.Seed
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	if n < Levels {
		return fmt.Errorf("need at least %d components, got %d", Levels, n)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	level := make([]int, n)
	byLevel := make([][]int, Levels)
	for i := range n {
		// The first tenth has no dependencies; the rest spread over the levels.
		l := 0
		if i >= n/10 {
			l = 1 + (i-n/10)*(Levels-1)/(n-n/10)
		}
		if i < Levels {
			l = i // every level is reached
		}
		level[i] = l
		byLevel[l] = append(byLevel[l], i)
	}
	var bundle, versions strings.Builder
	bundle.WriteString("package bundles\n\nbundles: bench: components: {\n")
	fmt.Fprintf(&versions, "package distgen\n\nimport \"github.com/distgen/distgen/schemas\"\n\nversions: schemas.#Versions & {\n\tdistribution: %q\n\treleaseDate: \"2026-11-23T00:00:00Z\"\n\tcomponents: {\n", o.Version)
	for i := range n {
		name := fmt.Sprintf("c%04d", i)
		deps := map[int]bool{}
		if l := level[i]; l > 0 {
			prev := byLevel[l-1]
			deps[prev[r.IntN(len(prev))]] = true
			for range r.IntN(3) {
				lower := byLevel[r.IntN(l)]
				deps[lower[r.IntN(len(lower))]] = true
			}
		}
		var depNames []string
		for j := range n {
			if deps[j] {
				depNames = append(depNames, fmt.Sprintf("%q", fmt.Sprintf("c%04d", j)))
			}
		}
		fmt.Fprintf(&bundle, "\t%s: {\n\t\tnamespace: \"ns-%02d\"\n\t\tchart: path: \"packages/system/app\"\n", name, i%40)
		if len(depNames) > 0 {
			fmt.Fprintf(&bundle, "\t\tdependsOn: [%s]\n", strings.Join(depNames, ", "))
		}
		if o.NoWait {
			bundle.WriteString("\t\twait: false\n")
		}
		fmt.Fprintf(&bundle, "\t\tvalues: {replicas: %d, message: \"component %d\"}\n\t}\n", 1+r.IntN(3), i)
		fmt.Fprintf(&versions, "\t\t%s: chart: \"1.0.%d\"\n", name, r.IntN(10))
	}
	bundle.WriteString("}\n")
	versions.WriteString("\t}\n}\n")

	files := map[string]string{
		"versions.cue":                                versions.String(),
		"bundles/bench.cue":                           bundle.String(),
		"bundles/bundles.cue":                         bundlesCUE,
		"packages/system/app/Chart.yaml":              "apiVersion: v2\nname: app\nversion: 0.0.0\ndescription: A benchmark chart\n",
		"packages/system/app/values.yaml":             "replicas: 1\nmessage: hello\nimage: registry.example.invalid/app:1.0.0\n",
		"packages/system/app/templates/workload.yaml": workload,
	}
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const bundlesCUE = `package bundles

import (
	"github.com/distgen/distgen/schemas"
	dist "github.com/distgen/distgen"
)

bundles: [Name=string]: schemas.#Bundle & {
	name:        Name
	version:     dist.versions.distribution
	releaseDate: dist.versions.releaseDate
	components: [C=string]: version: dist.versions.components[C].chart
}
`

const workload = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  message: {{ .Values.message | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
`
