package action

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distgen/distgen/generator/internal/scratch"
)

// Replacing an output directory leaves no moment without one: a reader
// that looks at it all the while always finds a whole tree, old or new.
func TestWriteTreeHasNoGap(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	tree := func(n int) map[string][]byte {
		return map[string][]byte{ReleaseFile: []byte{byte('0' + n%10)}, "charts/a.tgz": []byte("a")}
	}
	if err := writeTree(out, tree(0), nil); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var missing, reads atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			reads.Add(1)
			if _, err := os.Stat(filepath.Join(out, ReleaseFile)); err != nil {
				missing.Add(1)
			}
		}
	}()
	for i := 1; i <= 200; i++ {
		if err := writeTree(out, tree(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := missing.Load(); n > 0 {
		t.Errorf("%d of %d reads found no %s while the tree was replaced", n, reads.Load(), ReleaseFile)
	}
	if b, _ := os.ReadFile(filepath.Join(out, ReleaseFile)); string(b) != "0" { // 200 % 10
		t.Errorf("release.json holds %q after the last write", b)
	}
	// Nothing is left beside the output.
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.tmp-*")); len(left) > 0 {
		t.Errorf("left beside the output: %v", left)
	}
}

// What a killed run leaves (an unlocked temporary directory beside the
// output, a scratch directory in TMPDIR) is removed by the next run, once a
// minute old; what a live run holds is not.
func TestLeftoversRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out := filepath.Join(t.TempDir(), "out")
	old := time.Now().Add(-2 * time.Minute)
	leftovers := []string{filepath.Join(filepath.Dir(out), ".out.tmp-123"), filepath.Join(tmp, "distgen-build-456")}
	for _, d := range leftovers {
		if err := os.MkdirAll(filepath.Join(d, "charts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	live, err := scratch.New(tmp, "distgen-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	if err := os.Chtimes(live.Path, old, old); err != nil {
		t.Fatal(err)
	}
	if err := writeTree(out, map[string][]byte{ReleaseFile: []byte("{}")}, nil); err != nil {
		t.Fatal(err)
	}
	sd, err := scratch.New("", "distgen-build-") // as a build's Render makes it
	if err != nil {
		t.Fatal(err)
	}
	sd.Remove()
	for _, d := range leftovers {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s was left behind (%v)", d, err)
		}
	}
	if _, err := os.Stat(live.Path); err != nil {
		t.Errorf("a live run's directory was removed: %v", err)
	}
}
