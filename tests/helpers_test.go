package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/tests/fixture"
)

var update = flag.Bool("update", false, "rewrite golden files")

// repoRoot is the repository this test runs in.
const repoRoot = ".."

// build builds a bundle of the project at dir into a fresh directory.
func build(t *testing.T, dir, bundle string) (string, *action.BuildResult) {
	t.Helper()
	out := filepath.Join(t.TempDir(), bundle)
	a := &action.Build{Project: action.Project{Dir: dir, Bundle: bundle}, Out: out}
	res, err := a.Run(context.Background())
	if err != nil {
		t.Fatalf("build %s: %v", bundle, err)
	}
	return out, res
}

// hashes returns the sha256 of every file under dir.
func hashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, b := range fixture.Read(t, dir) {
		sum := sha256.Sum256(b)
		out[name] = hex.EncodeToString(sum[:])
	}
	if len(out) == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return out
}

// projectSources are the files a build reads.
var projectSources = fixture.ProjectSources

// copyProject copies a project's sources into a fresh directory; every file
// gets a new mtime.
func copyProject(t *testing.T, src string) string {
	t.Helper()
	return fixture.Copy(t, src, projectSources...)
}

// nopLogger silences the in-process registry's request log.
func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// helmCLIs returns the helm binaries make test names, by variable.
func helmCLIs() map[string]string {
	out := map[string]string{}
	for _, env := range []string{"DISTGEN_HELM3", "DISTGEN_HELM4"} {
		if bin := os.Getenv(env); bin != "" {
			out[env] = bin
		}
	}
	return out
}

// helm runs a helm CLI with its own cache, config and data under home.
func helm(bin, home string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	return cmd.CombinedOutput()
}

// checkModes checks that everything under dir is for others to read:
// directories 0755, files 0644.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = 0o755
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
