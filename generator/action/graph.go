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
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("unknown graph format %q (dot or svg)", g.Format)}
	}
}

// DOT writes a plan's dependency graph in Graphviz's DOT language.
func DOT(pl *plan.Plan) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "digraph %q {\n", pl.Bundle.Name)
	b.WriteString("  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n")
	for _, ns := range pl.Namespaces {
		fmt.Fprintf(&b, "  subgraph %q {\n    label=%q;\n", "cluster_"+ns.Name, ns.Name)
		if ns.Privileged {
			b.WriteString("    style=dashed;\n")
		}
		for _, c := range ns.Components {
			fmt.Fprintf(&b, "    %q;\n", c)
		}
		b.WriteString("  }\n")
	}
	for _, s := range pl.Steps {
		for _, d := range s.DependsOn {
			fmt.Fprintf(&b, "  %q -> %q;\n", d.Name, s.Component.Name)
		}
	}
	b.WriteString("}\n")
	return b.Bytes()
}
