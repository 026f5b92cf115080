// Package catalog writes synthetic distgen projects for benchmarks: N
// components shaped like the reference platform catalog (nine dependency
// levels, a few hubs most components depend on, a few large CRD-heavy
// charts among many small ones), deterministic from a seed.
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
	// Small leaves out the large CRD-heavy charts (the end-to-end tests,
	// whose API server need not store megabytes of CRDs).
	Small bool
	// Version is the distribution version; empty means 1.0.0.
	Version string
	// Image is the image every workload runs; empty means one that does not
	// exist (registry.example.invalid/app:1.0.0). A mirror needs a real one.
	Image string
	// Shape is what the charts look like; empty means Simple. The
	// dependency graph is the same for both shapes of one seed.
	Shape Shape
}

// The shape of the reference platform catalog (87 components): how many
// components sit at each dependency level, and how many dependencies a
// component above level 0 has.
var (
	levelWeights = [Levels]int{5, 2, 3, 16, 11, 14, 32, 3, 1}
	depWeights   = []int{0, 35, 4, 16, 20, 6, 1} // index: number of dependencies
)

// LargeEvery is how often a component's chart is a large CRD-heavy one
// (CRDs of several MB, like a CNI's, KubeVirt's or an operator's).
const LargeEvery = 50

// Write writes a project of n components into dir.
func Write(dir string, n int, seed uint64) error {
	return WriteOptions(dir, Options{N: n, Seed: seed})
}

// WriteOptions writes a project shaped by o into dir: N components, each
// with a chart of its own under packages/system/<name>, over nine
// dependency levels and with as many dependencies each as in the reference
// catalog, most of them on a few hubs (the CNI, cert-manager, CRD
// bundles). One chart in LargeEvery carries CRDs of 2 to 4.7 MB (helm v3 refuses to
// package a file over 5 MiB).
func WriteOptions(dir string, o Options) error {
	n, seed := o.N, o.Seed
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	switch o.Shape {
	case "":
		o.Shape = Simple
	case Simple, Real:
	default:
		return fmt.Errorf("unknown catalog shape %q (simple or real)", o.Shape)
	}
	if o.Image == "" {
		o.Image = "registry.example.invalid/app:1.0.0"
	}
	if n < Levels {
		return fmt.Errorf("need at least %d components, got %d", Levels, n)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	byLevel := levels(n)
	level := make([]int, n)
	for l, comps := range byLevel {
		for _, i := range comps {
			level[i] = l
		}
	}
	// Hubs: the first five components (the CNI, cert-manager, CRD
	// bundles); most dependencies point at them, as in the reference, where
	// five components take over half of all dependencies.
	hubs := []int{0, 1, 2, 3, 4}
	files := map[string][]byte{
		"bundles/bundles.cue": []byte(BundlesCUE),
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
			for range pick(r, depWeights) - 1 {
				if c := hubs[r.IntN(len(hubs))]; level[c] < l && r.IntN(4) > 0 {
					deps[c] = true
					continue
				}
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
		chartDir := "packages/system/" + name
		fmt.Fprintf(&bundle, "\t%s: {\n\t\tnamespace: \"ns-%02d\"\n\t\tchart: path: %q\n", name, i%40, chartDir)
		if len(depNames) > 0 {
			fmt.Fprintf(&bundle, "\t\tdependsOn: [%s]\n", strings.Join(depNames, ", "))
		}
		if o.NoWait {
			bundle.WriteString("\t\twait: false\n")
		}
		replicas := 1 + r.IntN(3)
		fmt.Fprintf(&versions, "\t\t%s: chart: \"1.0.%d\"\n", name, r.IntN(10))
		if o.Shape == Real {
			for _, line := range realChart(files, seed, i, name, chartDir, o) {
				fmt.Fprintf(&bundle, "\t\t%s\n", line)
			}
			bundle.WriteString("\t}\n")
			continue
		}
		fmt.Fprintf(&bundle, "\t\tvalues: {replicas: %d, message: \"component %d\"}\n\t}\n", replicas, i)
		files[chartDir+"/Chart.yaml"] = fmt.Appendf(nil, "apiVersion: v2\nname: %s\nversion: 0.0.0\ndescription: A benchmark chart\n", name)
		files[chartDir+"/values.yaml"] = fmt.Appendf(nil, "replicas: 1\nmessage: hello\nimage: %s\n", o.Image)
		files[chartDir+"/templates/workload.yaml"] = []byte(workload)
		if !o.Small && i%LargeEvery == LargeEvery/2 {
			// Half put their CRDs in crds/, half render them from templates/.
			path := chartDir + "/crds/crds.yaml"
			if (i/LargeEvery)%2 == 1 {
				path = chartDir + "/templates/crds.yaml"
			}
			// A generator of its own, so the graph is the real shape's too.
			cr := rand.New(rand.NewPCG(seed^uint64(i), uint64(i)))
			// At most 4.5 MiB and one document: helm v3 refuses to package a
			// file over 5 MiB.
			files[path] = crds(cr, name, 2<<20+cr.IntN(5<<19))
		}
	}
	bundle.WriteString("}\n")
	versions.WriteString("\t}\n}\n")
	files["versions.cue"] = []byte(versions.String())
	files["bundles/bench.cue"] = []byte(bundle.String())
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// levels spreads n components over the levels in the reference's
// proportions, at least one on each, in index order (a component depends
// only on components before it).
func levels(n int) [Levels][]int {
	total := 0
	for _, w := range levelWeights {
		total += w
	}
	var out [Levels][]int
	next := 0
	for l, w := range levelWeights {
		count := max(1, n*w/total)
		if l == Levels-1 {
			count = n - next
		}
		count = min(count, n-next-(Levels-1-l))
		for range count {
			out[l] = append(out[l], next)
			next++
		}
	}
	return out
}

// pick draws an index with the given weights.
func pick(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// words make the CRDs' descriptions; real CRDs are mostly prose.
var words = strings.Fields(`the of a to is and in for be this that if when field which by
must name namespace resource object spec status reference default value may set not are
specifies defines list map string number selector label annotation condition type version
cluster node pod container image volume secret key port protocol policy rule endpoint
interval timeout retry limit request replica template metadata owner controller webhook
certificate issuer route gateway backend service network address range mode level priority`)

// crds writes CustomResourceDefinitions for a chart until they make size
// bytes: deep OpenAPI schemas with a description on every property.
func crds(r *rand.Rand, chart string, size int) []byte {
	var b strings.Builder
	sentence := func() string {
		n := 6 + r.IntN(18)
		ws := make([]string, n)
		for i := range ws {
			ws[i] = words[r.IntN(len(words))]
		}
		return strings.ToUpper(ws[0][:1]) + strings.Join(ws, " ")[1:] + "."
	}
	var props func(indent string, depth int)
	props = func(indent string, depth int) {
		for f := range 4 + r.IntN(10) {
			fmt.Fprintf(&b, "%s%s%d:\n%s  description: %s\n", indent, words[r.IntN(len(words))], f, indent, sentence())
			switch {
			case depth < 4 && r.IntN(3) == 0:
				fmt.Fprintf(&b, "%s  type: object\n%s  properties:\n", indent, indent)
				props(indent+"    ", depth+1)
			case r.IntN(4) == 0:
				fmt.Fprintf(&b, "%s  type: array\n%s  items:\n%s    type: string\n", indent, indent, indent)
			default:
				fmt.Fprintf(&b, "%s  type: %s\n", indent, [...]string{"string", "integer", "boolean"}[r.IntN(3)])
			}
		}
	}
	for k := 0; b.Len() < size; k++ {
		kind := fmt.Sprintf("Kind%03d", k)
		plural := strings.ToLower(kind) + "s"
		group := chart + ".bench.example.io"
		fmt.Fprintf(&b, "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: %s.%s\nspec:\n  group: %s\n", plural, group, group)
		fmt.Fprintf(&b, "  names:\n    kind: %s\n    listKind: %sList\n    plural: %s\n    singular: %s\n  scope: Namespaced\n", kind, kind, plural, strings.ToLower(kind))
		b.WriteString("  versions:\n  - name: v1\n    served: true\n    storage: true\n    subresources:\n      status: {}\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n")
		for _, top := range []string{"spec", "status"} {
			fmt.Fprintf(&b, "          %s:\n            description: %s\n            type: object\n            properties:\n", top, sentence())
			props("              ", 0)
		}
	}
	return []byte(b.String())
}

// BundlesCUE is the bundles.cue of a generated catalog: every bundle a
// schemas.#Bundle, versioned by versions.cue.
const BundlesCUE = `package bundles

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
