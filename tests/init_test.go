package tests

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/distgen/distgen/generator/action"
)

// distgen init writes a project that distgen and the plain cue CLI take as
// it is: vet, build, the tenant build and a push to a layout pass, cue vet
// and cue fmt --check too; its files are 0644 and its directories 0755
// whatever the umask. A non-empty directory, a bad name or module is
// refused and nothing is written.
func TestInit(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	t.Setenv("DISTGEN_CACHE", t.TempDir())
	dir := filepath.Join(t.TempDir(), "acme-cloud")
	res, err := (&action.Init{Dir: dir, Module: "example.com/team/acme-cloud", Now: time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)}).Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Bundle != "acme-cloud" || len(res.Files) < 15 {
		t.Errorf("init: %+v", res)
	}
	checkModes(t, dir)
	if _, err := (&action.Vet{Dir: dir, Render: true}).Run(context.Background()); err != nil {
		t.Fatalf("vet: %v", err)
	}
	out, built := build(t, dir, "acme-cloud")
	if len(built.Release.Components) != 3 || built.Release.ReleaseDate != "2026-12-06T00:00:00Z" {
		t.Errorf("build: %d components, released %s", len(built.Release.Components), built.Release.ReleaseDate)
	}
	if _, err := push(t, out, "oci-layout:"+t.TempDir()); err != nil {
		t.Fatalf("push: %v", err)
	}
	tb := &action.TenantBuild{TenantProject: action.TenantProject{Dir: dir, Bundle: "customers"}}
	if _, err := tb.Run(context.Background()); err != nil {
		t.Fatalf("tenant build: %v", err)
	}
	if cue := os.Getenv("DISTGEN_CUE"); cue != "" {
		for _, args := range [][]string{{"vet", "-c", "./..."}, {"fmt", "--check", "--files", "."}} {
			cmd := exec.Command(cue, args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("cue %v: %v\n%s", args, err, out)
			}
		}
	}

	var usage *action.UsageError
	for _, in := range []action.Init{
		{Dir: dir}, // not empty
		{Dir: filepath.Join(t.TempDir(), "Bad_Name")}, // made a DNS label: bad-name
		{Dir: filepath.Join(t.TempDir(), "x"), Name: "Not A Label"},
		{Dir: filepath.Join(t.TempDir(), "y"), Module: "not a module"},
		{Dir: filepath.Join(t.TempDir(), "z"), Module: "example.com/x@v1"},
	} {
		_, err := in.Run()
		if in.Dir == dir || in.Name != "" || in.Module != "" {
			if !errors.As(err, &usage) {
				t.Errorf("init %+v: %v, want the user's error", in, err)
			}
			if in.Dir != dir {
				if _, serr := os.Stat(in.Dir); !errors.Is(serr, fs.ErrNotExist) {
					t.Errorf("init %+v left %s behind", in, in.Dir)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("init %+v: %v", in, err)
		}
	}
}
