package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/upstream"
	"github.com/distgen/distgen/tests/fixture"
)

// distgen bump edits versions.cue through CUE's syntax tree: the lines it
// changes are the only ones that differ, the file stays as cue fmt writes
// it, and the project loads with the new versions. Downgrades, unknown
// components and versions the schema refuses change nothing.
func TestBump(t *testing.T) {
	root := copyProject(t, repoRoot)
	path := filepath.Join(root, "versions.cue")
	read := func() []byte {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pinned := func(component string) (chart string, upstream map[string]string) {
		t.Helper()
		proj, err := load.Project(root)
		if err != nil {
			t.Fatal(err)
		}
		v := proj.Versions.Components[component]
		return v.Chart, v.Upstream
	}
	bump := func(b action.Bump) (*action.BumpResult, error) {
		b.Dir = root
		return b.Run(context.Background())
	}
	before := read()

	res, err := bump(action.Bump{Component: "cilium", Upstream: "cilium=1.19.6"})
	if err != nil {
		t.Fatal(err)
	}
	if chart, up := pinned("cilium"); chart != "0.1.1" || up["cilium"] != "1.19.6" || len(res.Changes) != 2 {
		t.Errorf("after bump --upstream: chart %s, upstream %v, changes %+v", chart, up, res.Changes)
	}
	if !slices.ContainsFunc(res.Hints, func(h string) bool { return strings.Contains(h, "distgen vendor") }) {
		t.Errorf("no hint to vendor the new upstream version: %v", res.Hints)
	}
	after := read()
	var changed []string
	bl, al := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
	if len(bl) != len(al) {
		t.Fatalf("the edit changed the number of lines: %d -> %d", len(bl), len(al))
	}
	for i := range bl {
		if bl[i] != al[i] {
			changed = append(changed, al[i])
		}
	}
	if len(changed) != 1 || !strings.Contains(changed[0], `"cilium": {chart: "0.1.1", upstream: {"cilium": "1.19.6"}}`) {
		t.Errorf("lines changed: %q", changed)
	}
	if cue := os.Getenv("DISTGEN_CUE"); cue != "" {
		cmd := exec.Command(cue, "fmt", "--check", "--files", "versions.cue")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cue fmt --check after bump: %v\n%s", err, out)
		}
	}

	if _, err := bump(action.Bump{Component: "cilium", Upstream: "cilium=1.20.0", Level: "minor"}); err != nil {
		t.Fatal(err)
	}
	if chart, _ := pinned("cilium"); chart != "0.2.0" {
		t.Errorf("--level minor: chart %s, want 0.2.0", chart)
	}
	if res, err := bump(action.Bump{Release: "0.2.0"}); err != nil || len(res.Changes) != 1 || res.Changes[0].To != "0.2.0" {
		t.Errorf("--release: %+v, %v", res, err)
	}
	if res, err := bump(action.Bump{Release: "0.2.0"}); err != nil || len(res.Changes) != 0 {
		t.Errorf("the same release again: %+v, %v, want nothing changed", res, err)
	}

	var usage *action.UsageError
	for _, b := range []action.Bump{
		{Component: "platform-crds", Chart: "0.0.9"},            // a downgrade
		{Component: "no-such-component", Chart: "1.0.0"},        // not pinned
		{Component: "platform-crds", Chart: "v1.2.3"},           // SemVer, but not the schema's
		{Component: "cilium", Upstream: "cilium"},               // no version
		{Component: "platform-crds"},                            // nothing to bump
		{Component: "cilium", Upstream: "cilium=not-a-version"}, // not SemVer
	} {
		was := read()
		_, err := bump(b)
		if err == nil {
			t.Errorf("bump %+v succeeded", b)
		}
		var lerr load.Errors
		if !errors.As(err, &usage) && !errors.As(err, &lerr) {
			t.Errorf("bump %+v: %v, want the user's error", b, err)
		}
		if !bytes.Equal(read(), was) {
			t.Errorf("bump %+v changed versions.cue", b)
		}
	}
	if _, err := bump(action.Bump{Component: "platform-crds", Chart: "0.0.9", AllowDowngrade: true}); err != nil {
		t.Errorf("--allow-downgrade: %v", err)
	}
	if chart, _ := pinned("platform-crds"); chart != "0.0.9" {
		t.Errorf("--allow-downgrade: chart %s", chart)
	}
}

// In a project that locks its upstream charts, bump --upstream fetches the
// new version, verifies it and locks it; a version the repository does not
// have fails the bump and leaves versions.cue and the lock as they were.
func TestBumpLocksNewUpstream(t *testing.T) {
	root := fixture.Copy(t, "../cmd/distgen/testdata/base")
	t.Setenv("DISTGEN_CACHE", t.TempDir())
	charts := map[string][]byte{"podinfo-6.5.0.tgz": upstreamChart(t, "podinfo", "6.5.0"), "podinfo-6.5.1.tgz": upstreamChart(t, "podinfo", "6.5.1")}
	srv, _ := helmRepo(t, charts)
	addStack(t, root, `{podinfo: "6.5.0"}`, fmt.Sprintf(`[{repository: %q, name: "podinfo"}]`, srv.URL+"/repo"))
	fetcher := &upstream.Fetcher{HTTP: srv.Client()}
	if _, err := (&action.Vendor{Dir: root, Fetcher: fetcher}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	locked := func() map[string]string {
		t.Helper()
		l, err := upstream.ReadLock(root)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, c := range l.Charts {
			out[c.Name+" "+c.Version] = c.Digest
		}
		return out
	}
	res, err := (&action.Bump{Dir: root, Component: "stack", Upstream: "podinfo=6.5.1", Fetcher: fetcher}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := locked()["podinfo 6.5.1"]; got != upstreamDigest(charts["podinfo-6.5.1.tgz"]) || len(res.Locked) != 1 || len(res.Hints) != 0 {
		t.Errorf("after the bump: lock %v, result %+v", locked(), res)
	}
	build(t, root, "test") // the new version builds from what was locked

	versionsBefore, _ := os.ReadFile(filepath.Join(root, "versions.cue"))
	lockBefore, _ := os.ReadFile(filepath.Join(root, upstream.LockFile))
	_, err = (&action.Bump{Dir: root, Component: "stack", Upstream: "podinfo=6.5.2", Fetcher: fetcher}).Run(context.Background())
	var usage *action.UsageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "podinfo 6.5.2") {
		t.Errorf("bump to a version the repository lacks: %v", err)
	}
	versionsAfter, _ := os.ReadFile(filepath.Join(root, "versions.cue"))
	lockAfter, _ := os.ReadFile(filepath.Join(root, upstream.LockFile))
	if !bytes.Equal(versionsBefore, versionsAfter) || !bytes.Equal(lockBefore, lockAfter) {
		t.Error("a failed bump changed versions.cue or the lock")
	}
	// --no-lock: edited, not locked, and said so.
	res, err = (&action.Bump{Dir: root, Component: "stack", Upstream: "podinfo=6.5.2", NoLock: true}).Run(context.Background())
	if err != nil || len(res.Locked) != 0 || len(res.Hints) != 1 {
		t.Errorf("--no-lock: %+v, %v", res, err)
	}
}
