package chart

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/distgen/distgen/generator/inventory"

	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/plan"
)

// Cache keeps what Build made of a chart (the archive, the rendered objects,
// lint's warnings, the images), under a key of everything Build reads: the
// loaded chart with its files, values and dependencies, the release's
// values, name and namespace, the Kubernetes version, the release date, and
// the distgen binary itself. An unchanged chart is then read back instead
// of being linted, rendered and packaged again.
type Cache struct{ Dir string }

// DefaultCache is $DISTGEN_CACHE/builds, or distgen/builds under the user's
// cache directory.
func DefaultCache() (*Cache, error) {
	if d := os.Getenv("DISTGEN_CACHE"); d != "" {
		return &Cache{Dir: filepath.Join(d, "builds")}, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	return &Cache{Dir: filepath.Join(d, "distgen", "builds")}, nil
}

// entry is what the cache keeps of a chart beside its archive (KEY.tgz).
// The rendered objects are not kept: builds read only the images found in
// them, and distgen template renders afresh.
type entry struct {
	SHA256 string            `json:"sha256"`
	Lint   []string          `json:"lint,omitempty"`
	Found  []inventory.Found `json:"found,omitempty"`
	// Rendered is the size of the rendered manifests, held against the
	// output bound of a later build.
	Rendered int64 `json:"rendered"`
}

func (c *Cache) path(key, ext string) string { return filepath.Join(c.Dir, key[:2], key+ext) }

// get returns the archive and entry under key; a missing or damaged entry
// is a miss.
func (c *Cache) get(key string) ([]byte, *entry, bool) {
	b, err := os.ReadFile(c.path(key, ".json"))
	if err != nil {
		return nil, nil, false
	}
	var e entry
	if json.Unmarshal(b, &e) != nil {
		return nil, nil, false
	}
	archive, err := os.ReadFile(c.path(key, ".tgz"))
	if err != nil {
		return nil, nil, false
	}
	if sum := sha256.Sum256(archive); hex.EncodeToString(sum[:]) != e.SHA256 {
		return nil, nil, false
	}
	return archive, &e, true
}

// put stores a chart's result, the archive first; a cache that cannot be
// written costs speed only.
func (c *Cache) put(key string, out *Chart) {
	sum := sha256.Sum256(out.Archive)
	b, err := json.Marshal(entry{SHA256: hex.EncodeToString(sum[:]), Lint: out.Lint, Found: out.Found, Rendered: renderedSize(out.Manifests)})
	if err != nil || os.MkdirAll(filepath.Dir(c.path(key, "")), 0o755) != nil {
		return
	}
	if atomicfile.Write(c.path(key, ".tgz"), out.Archive) == nil {
		_ = atomicfile.Write(c.path(key, ".json"), b)
	}
}

// Checked reports whether a release's object check under stamp passed
// before.
func (c *Cache) Checked(stamp string) bool {
	_, err := os.Stat(filepath.Join(c.Dir, "checked", stamp))
	return err == nil
}

// MarkChecked records that the object check under stamp passed.
func (c *Cache) MarkChecked(stamp string) {
	dir := filepath.Join(c.Dir, "checked")
	if os.MkdirAll(dir, 0o755) == nil {
		_ = atomicfile.Write(filepath.Join(dir, stamp), nil)
	}
}

// key is the cache key of building c for step s with opts.
func key(c *chartv2.Chart, s *plan.Step, opts Options) (string, error) {
	h := sha256.New()
	id, err := selfID()
	if err != nil {
		return "", err
	}
	field(h, []byte(id))
	inputs, err := json.Marshal(struct {
		Values                           map[string]any
		Release, Namespace, KubeVersion  string
		ReleaseDate, Chart, ChartVersion string
		AsIs                             bool
	}{s.Values, s.Component.ReleaseName, s.Component.Namespace, opts.KubeVersion,
		opts.ReleaseDate.UTC().String(), s.Chart, s.Version, s.Component.AsIs})
	if err != nil {
		return "", err
	}
	field(h, inputs)
	if err := hashChart(h, c); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// field writes b with its length, so that no two sequences of fields hash
// alike.
func field(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

func hashChart(h hash.Hash, c *chartv2.Chart) error {
	meta, err := json.Marshal(c.Metadata)
	if err != nil {
		return err
	}
	values, err := json.Marshal(c.Values)
	if err != nil {
		return err
	}
	field(h, meta)
	field(h, values)
	field(h, c.Schema)
	for _, files := range [][]*common.File{c.Raw, c.Templates, c.Files} {
		field(h, []byte{byte(len(files) >> 8), byte(len(files))})
		for _, f := range files {
			field(h, []byte(f.Name))
			field(h, []byte(f.ModTime.UTC().String()))
			field(h, f.Data)
		}
	}
	deps := c.Dependencies()
	field(h, []byte{byte(len(deps) >> 8), byte(len(deps))})
	for _, d := range deps {
		if err := hashChart(h, d); err != nil {
			return err
		}
	}
	return nil
}

var (
	selfOnce sync.Once
	self     string
	selfErr  error
)

// selfID identifies the running distgen binary: its Go build ID, which
// changes with any of its sources, or else a hash of the file.
func selfID() (string, error) {
	selfOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			selfErr = err
			return
		}
		if f, err := elf.Open(exe); err == nil {
			defer f.Close()
			if sec := f.Section(".note.go.buildid"); sec != nil {
				if data, err := sec.Data(); err == nil && len(data) > 0 {
					self = "go-buildid:" + string(data)
					return
				}
			}
		}
		f, err := os.Open(exe)
		if err != nil {
			selfErr = err
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			selfErr = err
			return
		}
		self = "sha256:" + hex.EncodeToString(h.Sum(nil))
	})
	if selfErr != nil {
		return "", errors.Join(errors.New("identifying the distgen binary for the build cache"), selfErr)
	}
	return self, nil
}
