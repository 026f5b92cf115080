package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// step is one command of the README's quick start and the output it shows.
type step struct {
	cmd, want string
}

// quickStart reads the quick-start block of the README: "$ " lines are
// commands, the lines after each its output.
func quickStart(t *testing.T) []step {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- quick-start: begin -->\n```console\n(.*?)```\n<!-- quick-start: end -->").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no quick-start block")
	}
	var steps []step
	for _, line := range strings.SplitAfter(string(m[1]), "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			steps = append(steps, step{cmd: strings.TrimSpace(cmd)})
			continue
		}
		if len(steps) == 0 {
			t.Fatalf("quick start: output before any command: %q", line)
		}
		steps[len(steps)-1].want += line
	}
	return steps
}

// shown turns a README output into a pattern: "…" stands for anything on
// its line, and a line that is only "…" for any number of lines.
func shown(want string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`\A`)
	for _, line := range strings.SplitAfter(want, "\n") {
		if line == "" {
			continue
		}
		if strings.TrimSpace(line) == "…" {
			b.WriteString(`(?:.*\n)*?`)
			continue
		}
		parts := strings.Split(line, "…")
		for i, p := range parts {
			if i > 0 {
				b.WriteString(`.*?`)
			}
			b.WriteString(regexp.QuoteMeta(p))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

// The README's quick start runs as written, in an empty directory, with
// the distgen binary built from this tree on PATH; each command succeeds
// and prints what the README shows. A command ending in & runs in the
// background until the end (its address is waited for).
func TestReadmeQuickStart(t *testing.T) {
	steps := quickStart(t)
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "distgen"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DISTGEN_CACHE="+t.TempDir())
	for _, s := range steps {
		if d, ok := strings.CutPrefix(s.cmd, "cd "); ok {
			dir = filepath.Join(dir, d)
			continue
		}
		if bg, ok := strings.CutSuffix(s.cmd, "&"); ok {
			cmd := exec.Command("bash", "-c", "exec "+bg)
			cmd.Dir, cmd.Env = dir, env
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			if addr := regexp.MustCompile(`--addr (\S+)`).FindStringSubmatch(bg); addr != nil {
				waitListening(t, addr[1], &log)
			}
			continue
		}
		cmd := exec.Command("bash", "-c", s.cmd)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("$ %s: %v\n%s", s.cmd, err, out)
		}
		if !shown(s.want).Match(out) {
			t.Errorf("$ %s printed:\n%s\nthe README shows:\n%s", s.cmd, out, s.want)
		}
	}
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens at %s: %s", addr, log)
}
