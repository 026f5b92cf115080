package flux

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distgen/distgen/generator/internal/buildid"
)

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Data:       data,
	}
}

// TestMemo: a memo gives the bytes Marshal gives, marshals again exactly
// the objects that changed, keeps only the documents the last build used,
// and ignores what another binary kept.
func TestMemo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flux", "memo.gob")
	a, b := configMap("a", map[string]string{"k": "1"}), configMap("b", map[string]string{"k": "2"})
	build := func(wantMisses int, objs ...any) []byte {
		t.Helper()
		m := OpenMemo(path)
		got, err := m.MarshalAll(objs...)
		if err != nil {
			t.Fatal(err)
		}
		want, err := MarshalAll(objs...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("through the memo:\n%s\nwithout:\n%s", got, want)
		}
		if m.Misses() != wantMisses {
			t.Errorf("%d misses, want %d", m.Misses(), wantMisses)
		}
		m.Save()
		return got
	}
	build(2, a, b)
	build(0, a, b)
	changed := configMap("b", map[string]string{"k": "3"})
	if got := build(1, a, changed); !bytes.Contains(got, []byte(`k: "3"`)) {
		t.Fatalf("the changed object kept its old YAML:\n%s", got)
	}
	kept := func() memoFile {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var mf memoFile
		if err := gob.NewDecoder(f).Decode(&mf); err != nil {
			t.Fatal(err)
		}
		return mf
	}
	if n := len(kept().Docs); n != 2 {
		t.Errorf("the memo keeps %d documents, want the 2 the last build used", n)
	}

	// What another binary kept is not used, even for the same JSON.
	id, err := buildid.ID()
	if err != nil || id == "" {
		t.Fatalf("no build ID: %v", err)
	}
	js, _ := json.Marshal(a)
	var other bytes.Buffer
	if err := gob.NewEncoder(&other).Encode(memoFile{Binary: id + "-other", Docs: map[[32]byte][]byte{sha256.Sum256(js): []byte("stale: true\n")}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, other.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	build(1, a)
	if mf := kept(); mf.Binary != id {
		t.Errorf("the memo was not rewritten by this binary: %q", mf.Binary)
	}

	// A damaged memo is a miss, not an error.
	if err := os.WriteFile(path, []byte("not gob"), 0o644); err != nil {
		t.Fatal(err)
	}
	build(1, a)
}
