package flux

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/internal/buildid"
)

// Memo keeps the YAML of objects marshalled by an earlier build, by the
// SHA-256 of each object's JSON, so that a rebuild converts to YAML only
// the objects that changed (the conversion is most of the Flux stage's
// time). What it keeps from another distgen binary is never used. A nil
// *Memo keeps nothing.
type Memo struct {
	path string
	id   string
	mu   sync.Mutex
	old  map[[32]byte][]byte
	used map[[32]byte][]byte
	miss int
}

// memoFile is what a Memo's file holds.
type memoFile struct {
	Binary string
	Docs   map[[32]byte][]byte
}

// OpenMemo reads the memo kept at path, or starts an empty one when there
// is none, it is unreadable, or another binary wrote it.
func OpenMemo(path string) *Memo {
	m := &Memo{path: path, old: map[[32]byte][]byte{}, used: map[[32]byte][]byte{}}
	m.id, _ = buildid.ID()
	if m.id == "" {
		return m
	}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	var mf memoFile
	if gob.NewDecoder(f).Decode(&mf) == nil && mf.Binary == m.id && mf.Docs != nil {
		m.old = mf.Docs
	}
	return m
}

// Save keeps the documents this build marshalled or took from the memo
// (and only those), when any was new or any kept one went unused. A memo
// that cannot be written is left as it was: it only saves time.
func (m *Memo) Save() {
	if m == nil || m.id == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.miss == 0 && len(m.used) == len(m.old) {
		return
	}
	var b bytes.Buffer
	if gob.NewEncoder(&b).Encode(memoFile{Binary: m.id, Docs: m.used}) != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(m.path), 0o755) == nil {
		_ = atomicfile.Write(m.path, b.Bytes())
	}
}

// Marshal is the package's Marshal, through the memo.
func (m *Memo) Marshal(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return fromJSON(b)
	}
	key := sha256.Sum256(b)
	m.mu.Lock()
	doc, ok := m.used[key]
	if !ok {
		if doc, ok = m.old[key]; ok {
			m.used[key] = doc
		}
	}
	m.mu.Unlock()
	if ok {
		return doc, nil
	}
	if doc, err = fromJSON(b); err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.used[key] = doc
	m.miss++
	m.mu.Unlock()
	return doc, nil
}

// MarshalAll is the package's MarshalAll, through the memo.
func (m *Memo) MarshalAll(objs ...any) ([]byte, error) {
	docs := make([][]byte, len(objs))
	for i, o := range objs {
		b, err := m.Marshal(o)
		if err != nil {
			return nil, err
		}
		docs[i] = b
	}
	return join(docs), nil
}

// Misses is how many documents the memo did not hold.
func (m *Memo) Misses() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.miss
}
