package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/inventory"
)

// LockFile is the lock kept beside versions.cue.
const LockFile = "versions.lock.json"

// Lock records the digest of every upstream chart the first time it is
// fetched; later fetches must match it. It also records the digest each
// image tag resolved to (distgen images --resolve --lock), which builds
// pin in the inventory.
type Lock struct {
	Charts []Locked      `json:"charts"`
	Images []LockedImage `json:"images,omitempty"`
	// changed is set when Set records something new.
	changed bool
}

// Changed reports whether Set recorded anything since the lock was read.
func (l *Lock) Changed() bool { return l.changed }

// Locked is one locked upstream chart.
type Locked struct {
	Repository string `json:"repository"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	// Digest is the sha256 of the chart archive.
	Digest string `json:"digest"`
	// Manifest is the OCI manifest digest, for charts from registries.
	Manifest string `json:"manifest,omitempty"`
}

// LockedImage is an image tag and the digest it resolved to.
type LockedImage struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// ImageDigest is the digest locked for the image reference ref, or "".
func (l *Lock) ImageDigest(ref string) string {
	n, _ := inventory.Normalize(ref)
	for _, e := range l.Images {
		if e.Ref == ref || n != "" && sameImage(e.Ref, n) {
			return e.Digest
		}
	}
	return ""
}

// sameImage reports whether a locked reference, written before references
// were normalized, is the normalized reference n.
func sameImage(locked, n string) bool {
	m, ok := inventory.Normalize(locked)
	return ok && m == n
}

// SetImage records the digest of the image reference ref.
func (l *Lock) SetImage(ref, digest string) {
	for i := range l.Images {
		if l.Images[i].Ref == ref {
			if l.Images[i].Digest != digest {
				l.Images[i].Digest, l.changed = digest, true
			}
			return
		}
	}
	l.changed = true
	l.Images = append(l.Images, LockedImage{Ref: ref, Digest: digest})
}

// PinImages returns refs with every reference the lock holds pinned as
// ref@digest; the others are returned as they are.
func (l *Lock) PinImages(refs []string) []string {
	if len(l.Images) == 0 {
		return refs
	}
	out := make([]string, len(refs))
	for i, ref := range refs {
		out[i] = ref
		if d := l.ImageDigest(ref); d != "" && !strings.Contains(ref, "@") {
			out[i] = ref + "@" + d
		}
	}
	return out
}

func (l Locked) matches(u api.Upstream) bool {
	return l.Repository == u.Repository && l.Name == u.Name && l.Version == u.Version
}

// ReadLock reads the lock of the project at root; a missing lock is empty.
func ReadLock(root string) (*Lock, error) {
	b, err := os.ReadFile(filepath.Join(root, LockFile))
	if errors.Is(err, os.ErrNotExist) {
		return &Lock{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseLock(b)
}

// ParseLock reads a lock file's bytes. Every chart it locks names a
// repository, a chart, a version and a sha256 digest, and every image a
// reference and a sha256 digest: a lock that does not is refused, naming
// the entry.
func ParseLock(b []byte) (*Lock, error) {
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", LockFile, err)
	}
	for i, c := range l.Charts {
		if c.Repository == "" || c.Name == "" || c.Version == "" || !isSHA256(c.Digest) {
			return nil, fmt.Errorf("%s: charts[%d] (%s %s): want repository, name, version and a sha256 digest", LockFile, i, c.Name, c.Version)
		}
	}
	for i, im := range l.Images {
		if im.Ref == "" || !isSHA256(im.Digest) {
			return nil, fmt.Errorf("%s: images[%d] (%s): want a reference and a sha256 digest", LockFile, i, im.Ref)
		}
	}
	return &l, nil
}

// isSHA256 reports whether d is "sha256:" and 64 lower-case hex digits.
func isSHA256(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	return ok && len(hex) == 64 && strings.Trim(hex, "0123456789abcdef") == ""
}

// Get returns the entry for u, or nil.
func (l *Lock) Get(u api.Upstream) *Locked {
	for i := range l.Charts {
		if l.Charts[i].matches(u) {
			return &l.Charts[i]
		}
	}
	return nil
}

// Set records u's digests.
func (l *Lock) Set(u api.Upstream, digest, manifest string) {
	if e := l.Get(u); e != nil {
		if e.Digest != digest || e.Manifest != manifest {
			e.Digest, e.Manifest, l.changed = digest, manifest, true
		}
		return
	}
	l.changed = true
	l.Charts = append(l.Charts, Locked{Repository: u.Repository, Name: u.Name, Version: u.Version, Digest: digest, Manifest: manifest})
}

// Write writes the lock, sorted, through a temporary file.
func (l *Lock) Write(root string) error {
	b, err := l.Bytes()
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(root, LockFile), b)
}

// Bytes is the lock as Write writes it: entries sorted, indented JSON.
func (l *Lock) Bytes() ([]byte, error) {
	sort.Slice(l.Charts, func(i, j int) bool {
		a, b := l.Charts[i], l.Charts[j]
		return a.Repository+"\x00"+a.Name+"\x00"+a.Version < b.Repository+"\x00"+b.Name+"\x00"+b.Version
	})
	sort.Slice(l.Images, func(i, j int) bool { return l.Images[i].Ref < l.Images[j].Ref })
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Cache is a content-addressed store of chart archives:
// DIR/sha256/<hex>.tgz.
type Cache struct{ Dir string }

// DefaultCache is $DISTGEN_CACHE/charts, or distgen/charts under the
// user's cache directory.
func DefaultCache() (Cache, error) {
	if d := os.Getenv("DISTGEN_CACHE"); d != "" {
		return Cache{Dir: filepath.Join(d, "charts")}, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return Cache{}, err
	}
	return Cache{Dir: filepath.Join(d, "distgen", "charts")}, nil
}

// Path is where the archive with digest lives.
func (c Cache) Path(digest string) string {
	algo, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(c.Dir, algo, hex+".tgz")
}

// Get returns the archive with digest, if the cache holds it intact.
func (c Cache) Get(d string) ([]byte, bool) {
	b, err := os.ReadFile(c.Path(d))
	if err != nil || digest(b) != d {
		return nil, false
	}
	return b, true
}

// Put stores an archive and returns its digest.
func (c Cache) Put(archive []byte) (string, error) {
	d := digest(archive)
	if _, ok := c.Get(d); ok {
		return d, nil
	}
	path := c.Path(d)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return d, atomicfile.Write(path, archive)
}

// ErrNotVendored is returned when an upstream chart is neither in the
// project's vendor directory nor locked and cached.
var ErrNotVendored = errors.New("upstream chart not vendored")

// VendorDir is where a project may keep upstream chart archives itself
// (<name>-<version>.tgz), relative to its root.
const VendorDir = "packages/vendor"

// Resolve returns the archive of u: the project's vendor directory first,
// then the cache. Wherever it is found, it must have the digest u pins or
// else the one the lock records; an archive in the vendor directory that
// neither pins is refused too, since nothing says it is the chart released.
func Resolve(root string, lock *Lock, cache Cache, u api.Upstream) ([]byte, error) {
	want, from := u.Digest, "the digest the bundle pins"
	if e := lock.Get(u); e != nil && want == "" {
		want, from = e.Digest, LockFile
	}
	local := filepath.Join(VendorDir, u.ArchiveName())
	if b, err := os.ReadFile(filepath.Join(root, local)); err == nil {
		switch got := digest(b); {
		case want == "":
			return nil, fmt.Errorf("%s: neither pinned by digest nor in %s; record it with: distgen vendor", local, LockFile)
		case got != want:
			return nil, fmt.Errorf("%s has digest %s, not %s (%s)", local, got, want, from)
		}
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if want != "" {
		if b, ok := cache.Get(want); ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: %s %s from %s is neither in %s nor cached; fetch it with: distgen vendor",
		ErrNotVendored, u.Name, u.Version, u.Repository, VendorDir)
}
