package chart

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"os"
	"path/filepath"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/chartdir"
	"github.com/distgen/distgen/generator/inventory"

	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/internal/buildid"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/render/validate"
)

// Cache keeps what Build made of a chart (the archive, its metadata, lint's
// warnings, the images), under a key of everything Build reads, hashed as
// read: the chart directory's files (or the upstream archives a wrapper
// depends on), the release's values, name and namespace, the values files,
// the Kubernetes version, the release date, and the distgen binary itself.
// An unchanged chart is then read back instead of being loaded, linted,
// rendered and packaged again.
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
	SHA256 string `json:"sha256"`
	// Metadata is the packaged chart's, so that a chart read from the
	// cache is not loaded to learn it.
	Metadata *chartv2.Metadata `json:"metadata"`
	Lint     []string          `json:"lint,omitempty"`
	Found    []inventory.Found `json:"found,omitempty"`
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

// objectsEntry is what the release's check needs of a chart (KEY.objects):
// its CRDs as parsed and checked, and its custom resources.
type objectsEntry struct {
	CRDs   []validate.CRDRecord `json:"crds,omitempty"`
	Custom []validate.Object    `json:"custom,omitempty"`
}

// putObjects keeps a built chart's CRDs and custom resources, when its
// CRDs all passed; a chart without the entry is rendered again for the
// release's check.
func (c *Cache) putObjects(key string, out *Chart) {
	if len(out.CRDErrors) > 0 {
		return
	}
	e := objectsEntry{Custom: out.Custom}
	for _, crd := range out.Parsed {
		e.CRDs = append(e.CRDs, crd.Record())
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	_ = atomicfile.Write(c.path(key, ".objects"), b)
}

// objects reads what putObjects kept under key; a missing or damaged entry
// is a miss.
func (c *Cache) objects(key string) (*objectsEntry, bool) {
	b, err := os.ReadFile(c.path(key, ".objects"))
	if err != nil {
		return nil, false
	}
	var e objectsEntry
	if json.Unmarshal(b, &e) != nil {
		return nil, false
	}
	return &e, true
}

// FluxMemo is where a project's bundle keeps the YAML of its Flux objects
// between builds (flux.Memo).
func (c *Cache) FluxMemo(root, bundle string) string {
	h := sha256.Sum256([]byte(root + "\x00" + bundle))
	return filepath.Join(c.Dir, "flux", hex.EncodeToString(h[:12])+".gob")
}

// ValuesDir is where load keeps parsed values files (see load.Options).
func (c *Cache) ValuesDir() string { return filepath.Join(c.Dir, "values") }

// put stores a chart's result, the archive first; a cache that cannot be
// written costs speed only.
func (c *Cache) put(key string, out *Chart) {
	b, err := json.Marshal(entry{SHA256: out.SHA256, Metadata: out.Metadata, Lint: out.Lint, Found: out.Found, Rendered: renderedSize(out.Manifests)})
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

// key is the cache key of building the chart of step s with opts, whose
// files (names) hash to digest (filesDigest): everything load, lint,
// render and package read, hashed as read, before Helm parses any of it.
func key(digest []byte, names map[string]bool, s *plan.Step, opts Options) (string, error) {
	h := sha256.New()
	id, err := buildid.ID()
	if err != nil {
		return "", err
	}
	field(h, []byte(id))
	comp := s.Component
	in := struct {
		Values                           map[string]any
		ChartValues                      map[string]any `json:",omitempty"`
		Release, Namespace, KubeVersion  string
		ReleaseDate, Chart, ChartVersion string
		AsIs                             bool
		Component, Bundle, Path          string
		ValuesFiles                      []string
		Upstream                         []api.Upstream
	}{Values: s.Values, Release: comp.ReleaseName, Namespace: comp.Namespace, KubeVersion: opts.KubeVersion,
		ReleaseDate: opts.ReleaseDate.UTC().String(), Chart: s.Chart, ChartVersion: s.Version, AsIs: comp.AsIs,
		Component: comp.Name, Bundle: opts.Bundle, Path: comp.Chart.Path, ValuesFiles: comp.ValuesFiles, Upstream: comp.Chart.Upstream}
	// The merged values files are the chart's files, hashed in digest,
	// unless one of them is not among the files Helm loads (.helmignore).
	for _, f := range comp.ValuesFiles {
		if !names[filepath.ToSlash(f)] {
			in.ChartValues = s.ChartValues
		}
	}
	inputs, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	field(h, inputs)
	field(h, digest)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// filesDigest hashes what a chart build reads from disk: the chart
// directory's files, names and bytes, or the upstream archives.
func filesDigest(src *source) []byte {
	h := sha256.New()
	count(h, len(src.files))
	for _, f := range src.files {
		field(h, []byte(f.Name))
		field(h, f.Data)
	}
	count(h, len(src.upstream))
	for _, a := range src.upstream {
		field(h, a)
	}
	return h.Sum(nil)
}

// The stat index maps what the file system says of a chart directory's
// files (names, sizes, modification and change times, inodes) to the
// digest of their content, so that a rebuild of an unchanged chart reads
// none of its files. A fingerprint is recorded only when every file was
// last changed well before the files were read (settled), so that a write
// later within the file system's timestamp granularity changes it.
const settled = 100 * time.Millisecond

// fingerprint is the stat index key of a chart directory's entries, and
// whether they may be recorded as of before (when they were listed).
func fingerprint(dir string, entries []chartdir.Entry, before time.Time) (string, bool) {
	h := sha256.New()
	id, err := buildid.ID()
	if err != nil {
		return "", false
	}
	field(h, []byte(id))
	field(h, []byte(dir))
	count(h, len(entries))
	ok := true
	limit := before.Add(-settled).UnixNano()
	for _, e := range entries {
		st := e.Stat
		field(h, []byte(e.Name))
		var b [40]byte
		binary.BigEndian.PutUint64(b[0:], uint64(st.Size))
		binary.BigEndian.PutUint64(b[8:], uint64(st.ModNs))
		binary.BigEndian.PutUint64(b[16:], uint64(st.ChangeNs))
		binary.BigEndian.PutUint64(b[24:], st.Inode)
		binary.BigEndian.PutUint64(b[32:], st.Device)
		field(h, b[:])
		// A file system that keeps whole seconds (its times have no
		// fraction) may give a later write within that second the same
		// times: such a file counts as settled a second later.
		coarse := int64(0)
		if st.ModNs%int64(time.Second) == 0 && st.ChangeNs%int64(time.Second) == 0 {
			coarse = int64(time.Second)
		}
		if !st.Ok || st.ModNs+coarse >= limit || st.ChangeNs+coarse >= limit {
			ok = false
		}
	}
	return hex.EncodeToString(h.Sum(nil)), ok
}

// digestOf returns the content digest the stat index holds for fp.
func (c *Cache) digestOf(fp string) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(c.Dir, "stat", fp[:2], fp))
	if err != nil || len(b) != sha256.Size {
		return nil, false
	}
	return b, true
}

// putDigest records the content digest of fp; a cache that cannot be
// written costs speed only.
func (c *Cache) putDigest(fp string, digest []byte) {
	dir := filepath.Join(c.Dir, "stat", fp[:2])
	if os.MkdirAll(dir, 0o755) == nil {
		_ = atomicfile.Write(filepath.Join(dir, fp), digest)
	}
}

// field writes b with its length, so that no two sequences of fields hash
// alike.
func field(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// count writes the number of fields that follow.
func count(h hash.Hash, n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	field(h, b[:])
}
