package upstream

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/distgen/distgen/generator/api"
)

// A versions.lock.json is taken or refused as a whole; one that is taken
// writes back (sorted, indented) to bytes that read as the same lock, and
// writing those again gives the same bytes.
func FuzzParseLock(f *testing.F) {
	d := "sha256:" + strings.Repeat("ab", 32)
	f.Add([]byte(`{"charts":[{"repository":"https://charts.example.com","name":"podinfo","version":"6.5.0","digest":"` + d + `"}]}`))
	f.Add([]byte(`{"charts":[],"images":[{"ref":"docker.io/library/busybox:1.37","digest":"` + d + `"}]}`))
	f.Add([]byte(`{"charts":[{"name":"x"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLock(b)
		if err != nil {
			if !strings.Contains(err.Error(), LockFile) {
				t.Errorf("error does not name %s: %v", LockFile, err)
			}
			return
		}
		once, err := l.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		l2, err := ParseLock(once)
		if err != nil {
			t.Fatalf("what was written does not read: %v\n%s", err, once)
		}
		twice, err := l2.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Errorf("written twice, the lock differs:\n%s\n%s", once, twice)
		}
	})
}

// Whatever bytes an upstream chart archive holds, Verify never panics; an
// archive it takes is a chart of the name and version asked for, and one
// it refuses for being unsafe says so.
func FuzzVerifyArchive(f *testing.F) {
	f.Add(chartArchive(f, "podinfo", "6.5.0"))
	f.Add([]byte("\x1f\x8b\x08\x00not really gzip"))
	f.Add([]byte{})
	u := api.Upstream{Name: "podinfo", Version: "6.5.0", Repository: "https://charts.example.com"}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := Verify(b, u, ""); err != nil {
			return
		}
		// Taken: the same bytes pinned by their own digest are taken too,
		// and by another digest refused.
		if err := Verify(b, u, digest(b)); err != nil {
			t.Errorf("taken unpinned, refused pinned by its own digest: %v", err)
		}
		if err := Verify(b, u, "sha256:"+strings.Repeat("0", 64)); err == nil {
			t.Error("taken pinned by another digest")
		}
	})
}

// chartArchive packages a small chart with Helm.
func chartArchive(tb testing.TB, name, version string) []byte {
	tb.Helper()
	c := &chartv2.Chart{
		Metadata:  &chartv2.Metadata{APIVersion: "v2", Name: name, Version: version},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n")}},
	}
	c.StampModTimes(time.Unix(0, 0))
	p, err := chartutil.Save(c, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
