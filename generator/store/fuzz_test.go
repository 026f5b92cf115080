package store

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// An index.json either parses, and then marshals to one that parses to
// the same, or is refused with an error that names the file.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2,"annotations":{"org.opencontainers.image.ref.name":"charts/a:1.0.0"}}]}`))
	f.Add([]byte(`{"manifests":[{"digest":"sha256:zz"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := parseIndex(b, "index.json")
		if err != nil {
			if !strings.Contains(err.Error(), "index.json") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		again, err := json.Marshal(idx)
		if err != nil {
			t.Fatalf("a parsed index does not marshal: %v", err)
		}
		idx2, err := parseIndex(again, "index.json")
		if err != nil {
			t.Fatalf("a marshalled index does not parse: %v\n%s", err, again)
		}
		if a, b := mustJSON(t, idx), mustJSON(t, idx2); a != b {
			t.Errorf("round trip changed the index:\n%s\n%s", a, b)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tarOf packs entries (name, type, content) into a tar.
func tarOf(entries ...[3]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := byte(tar.TypeReg)
		if e[1] != "" {
			typ = e[1][0]
		}
		tw.WriteHeader(&tar.Header{Name: e[0], Typeflag: typ, Size: int64(len(e[2])), Mode: 0o644, Linkname: "../../etc/passwd"})
		tw.Write([]byte(e[2]))
	}
	tw.Close()
	return buf.Bytes()
}

// Whatever bytes an archive holds, reading it never panics, and an
// archive that is taken holds only entries whose names stay inside it and
// whose data lies inside the file; its index either parses or the error
// names index.json. (Read from memory: the same code as OpenArchive past
// opening the file.)
func FuzzReadArchive(f *testing.F) {
	f.Add(tarOf([3]string{"oci-layout", "", `{"imageLayoutVersion":"1.0.0"}`}, [3]string{"index.json", "", `{"manifests":[]}`}))
	f.Add(tarOf([3]string{"../escape", "", "x"}))
	f.Add(tarOf([3]string{"blobs/sha256/x", "2", ""}))
	f.Add([]byte("not a tar at all"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := readArchive(nopCloser{bytes.NewReader(b)}, int64(len(b)))
		if err != nil {
			return
		}
		for name, e := range a.entries {
			if name == ".." || strings.HasPrefix(name, "../") || strings.HasPrefix(name, "/") {
				t.Errorf("entry %q escapes the archive", name)
			}
			if e.off < 0 || e.size < 0 || e.off+e.size > int64(len(b)) {
				t.Errorf("entry %q at %d+%d lies outside the %d-byte file", name, e.off, e.size, len(b))
			}
		}
		if _, err := a.Index(); err != nil && !strings.Contains(err.Error(), "index.json") {
			t.Errorf("index error does not name index.json: %v", err)
		}
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
