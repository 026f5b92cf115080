package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/distgen/distgen/generator/plan"
)

// GraphFormat is how Graph prints the dependency graph.
type GraphFormat string

const (
	GraphDOT GraphFormat = "dot"
	GraphSVG GraphFormat = "svg"
)

// ErrNoGraphviz is returned for SVG output when Graphviz's dot is missing.
var ErrNoGraphviz = errors.New("graphviz's dot is not on PATH (install graphviz, or use --format dot)")

// Graph draws a bundle's dependency graph: an edge runs from a component
// to each component that depends on it, namespaces are clusters.
type Graph struct {
	Project
	Format GraphFormat
}

// Run returns the graph in the chosen format.
func (g *Graph) Run(ctx context.Context) ([]byte, error) {
	_, pl, err := g.plan()
	if err != nil {
		return nil, err
	}
	dot := DOT(pl)
	switch g.Format {
	case "", GraphDOT:
		return dot, nil
	case GraphSVG:
		return SVG(ctx, dot)
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("unknown graph format %q (dot or svg)", g.Format)}
	}
}

// SVG draws a DOT graph with Graphviz's dot (ErrNoGraphviz without it).
func SVG(ctx context.Context, dot []byte) ([]byte, error) {
	bin, err := exec.LookPath("dot")
	if err != nil {
		return nil, ErrNoGraphviz
	}
	cmd := exec.CommandContext(ctx, bin, "-Tsvg")
	cmd.Stdin = bytes.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dot -Tsvg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// DOT writes a plan's dependency graph in Graphviz's DOT language.
func DOT(pl *plan.Plan) []byte {
	var clusters []dotCluster
	for _, ns := range pl.Namespaces {
		clusters = append(clusters, dotCluster{name: ns.Name, dashed: ns.Privileged, nodes: ns.Components})
	}
	var edges [][2]string
	for _, s := range pl.Steps {
		for _, d := range s.DependsOn {
			edges = append(edges, [2]string{d.Name, s.Component.Name})
		}
	}
	return writeDOT(pl.Bundle.Name, clusters, edges, nil)
}

// dotCluster is a namespace of the graph and the components in it.
type dotCluster struct {
	name   string
	dashed bool
	nodes  []string
}

// writeDOT writes a graph of clusters of nodes and edges FROM -> TO; link,
// when set, gives each node the URL it links to.
func writeDOT(name string, clusters []dotCluster, edges [][2]string, link func(node string) string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "digraph %q {\n", name)
	b.WriteString("  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n")
	for _, c := range clusters {
		fmt.Fprintf(&b, "  subgraph %q {\n    label=%q;\n", "cluster_"+c.name, c.name)
		if c.dashed {
			b.WriteString("    style=dashed;\n")
		}
		for _, n := range c.nodes {
			if link != nil {
				fmt.Fprintf(&b, "    %q [URL=%q, tooltip=%q];\n", n, link(n), n)
				continue
			}
			fmt.Fprintf(&b, "    %q;\n", n)
		}
		b.WriteString("  }\n")
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "  %q -> %q;\n", e[0], e[1])
	}
	b.WriteString("}\n")
	return b.Bytes()
}
