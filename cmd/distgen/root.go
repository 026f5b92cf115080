package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/redact"
)

// Exit codes.
const (
	exitOK       = 0
	exitUser     = 1 // a problem in the user's input: sources, bundles, flags
	exitInternal = 2 // anything else: the machine, or a bug in distgen
)

// streams are where a command writes: data to Out, everything else to Err.
type streams struct {
	Out io.Writer
	Err io.Writer
}

// globals are the flags every command shares.
type globals struct {
	Dir    string
	Bundle string
}

func (g *globals) project() action.Project { return action.Project{Dir: g.Dir, Bundle: g.Bundle} }

// run executes distgen with args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Nothing distgen writes to stderr (errors, progress, warnings, what a
	// registry or credential helper answered) shows a credential.
	masked := &redact.Writer{W: stderr}
	defer masked.Flush()
	stderr = masked
	s := streams{Out: stdout, Err: stderr}
	cmd := newRoot(s)
	// started is set once a command's flags and arguments were accepted and
	// it began to run; an error before that is about the command line.
	started := false
	markStart(cmd, &started)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	var fe flagError
	if !started || action.IsUserError(err) || errors.As(err, &fe) {
		return exitUser
	}
	return exitInternal
}

// markStart makes every command of the tree set *started when its RunE
// begins, after cobra has checked flags, required flags and arguments.
func markStart(cmd *cobra.Command, started *bool) {
	for _, c := range cmd.Commands() {
		markStart(c, started)
	}
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if err := refuseCredentials(c, args); err != nil {
				return err
			}
			*started = true
			return run(c, args)
		}
	}
}

// refuseCredentials refuses a reference with credentials in it
// (oci://user:secret@host): they would end up in logs, in the objects
// printed for a cluster and in shell histories. Credentials come from the
// Docker config and its helpers.
func refuseCredentials(c *cobra.Command, args []string) error {
	var bad []string
	c.Flags().Visit(func(f *pflag.Flag) {
		if redact.Has(f.Value.String()) {
			bad = append(bad, fmt.Sprintf("--%s %s", f.Name, redact.String(f.Value.String())))
		}
	})
	for _, a := range args {
		if redact.Has(a) {
			bad = append(bad, redact.String(a))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return flagError{fmt.Errorf("%s: credentials in a reference are refused; log in with docker login or a credential helper instead", strings.Join(bad, ", "))}
}

// flagError marks a flag value the command rejects.
type flagError struct{ error }

func (e flagError) Unwrap() error { return e.error }

func newRoot(s streams) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "distgen",
		Short: "Build a Kubernetes platform distribution from CUE bundles",
		Long: `distgen turns a platform described in CUE into versioned, byte-reproducible
Helm charts and the Flux objects that install them in dependency order.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().StringVarP(&g.Dir, "dir", "C", ".", "project directory (or a directory below it)")
	root.PersistentFlags().StringVar(&g.Bundle, "bundle", "", "bundle to work on (needed when the project has several)")
	root.AddCommand(
		newInit(s),
		newSchema(s),
		newVet(s, g),
		newTenant(s, g),
		newBuild(s, g),
		newTemplate(s, g),
		newImages(s, g),
		newTalosProfile(s, g),
		newGraph(s, g),
		newVendor(s, g),
		newPush(s, g),
		newBootstrap(s, g),
		newServe(s),
		newMirror(s, g),
		newKeygen(s),
		newSign(s, g),
		newVerify(s, g),
		newInspect(s, g),
		newPromote(s, g),
		newBump(s, g),
		newOutdated(s, g),
		newDiff(s, g),
		newReport(s, g),
		newDev(s, g),
		newVersion(s),
	)
	addCompletions(root, g)
	return root
}

// outputFormat is the -o flag of commands that print data.
type outputFormat string

const (
	outputText outputFormat = "text"
	outputJSON outputFormat = "json"
	outputYAML outputFormat = "yaml"
)

func addOutputFlag(cmd *cobra.Command, o *outputFormat) {
	*o = outputText
	cmd.Flags().StringVarP((*string)(o), "output", "o", string(outputText), "output format: text, json or yaml")
}

// print writes v as JSON or YAML, or calls text for the text format.
func (o outputFormat) print(w io.Writer, v any, text func()) error {
	switch o {
	case outputText:
		text()
		return nil
	case outputJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case outputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	default:
		return flagError{fmt.Errorf("unknown output format %q (text, json or yaml)", o)}
	}
}
