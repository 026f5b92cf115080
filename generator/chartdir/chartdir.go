// Package chartdir reads a first-party chart directory the way Helm's
// loader does (.helmignore and its default rules, symlinks followed), but
// confined: every file read is a regular file inside the chart directory,
// within size limits. A symlink that leaves the directory, or that reaches
// a device, a FIFO or a socket, is refused, so a build packages only what
// the project holds. load checks a chart with Check (for vet), and the
// chart build reads it with Read.
package chartdir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	"helm.sh/helm/v4/pkg/ignore"

	"github.com/distgen/distgen/generator/internal/regular"
)

// Limits bound what one chart may hold.
type Limits struct {
	// File is the largest file, in bytes.
	File int64
	// Chart is the most all files of a chart may hold together, in bytes.
	Chart int64
}

// DefaultLimits: a file of up to 20 MiB (the largest CRD files of real
// platforms are a few MB) and 100 MiB a chart, which is Helm's own bound
// on an unpacked chart archive.
var DefaultLimits = Limits{File: 20 << 20, Chart: 100 << 20}

// Problem is one file of a chart directory that cannot be read.
type Problem struct {
	// Path is the file's path as the caller names the directory (for
	// instance "packages/system/app/templates/x.yaml").
	Path string
	Msg  string
}

func (p *Problem) Error() string { return p.Path + ": " + p.Msg }

// Inside reports whether path is dir or below it; both must be clean and
// absolute.
func Inside(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Resolve returns the real path of the chart directory dir (symlinks
// resolved), which must lie inside the real path of root.
func Resolve(root, dir string) (string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if !Inside(real, realRoot) {
		return "", fmt.Errorf("resolves to %s, outside the project", real)
	}
	return real, nil
}

// Check reports every file of the chart directory dir that Read would
// refuse, by display name under shown, without reading the files.
func Check(dir, shown string, lim Limits) error {
	_, err := walk(dir, shown, lim, false)
	return err
}

// Entry is a file Read would return, as the file system describes it.
type Entry struct {
	Name string
	Stat Stat
}

// Stat is what changes when a file's content may have: its size, its
// modification and change times, and which file it is. Ok is false where
// the platform does not tell all of them.
type Stat struct {
	Size            int64
	ModNs, ChangeNs int64
	Inode, Device   uint64
	Ok              bool
}

// List returns the files Read would return, with their Stat, reading none
// of them; it refuses what Read refuses.
func List(dir, shown string, lim Limits) ([]Entry, error) {
	files, err := walk(dir, shown, lim, false)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(files))
	for i, f := range files {
		out[i] = f.entry
	}
	return out, nil
}

// Read returns the files of the chart directory dir that Helm would load,
// as Helm's loader.LoadFiles takes them. Every problem is reported, each as
// a *Problem naming the file under shown.
func Read(dir, shown string, lim Limits) ([]*archive.BufferedFile, error) {
	found, err := walk(dir, shown, lim, true)
	if err != nil {
		return nil, err
	}
	files := make([]*archive.BufferedFile, len(found))
	for i, f := range found {
		files[i] = f.file
	}
	return files, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func walk(dir, shown string, lim Limits, read bool) ([]walked, error) {
	top, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	rules := ignore.Empty()
	if b, err := regular.Read(filepath.Join(top, ignore.HelmIgnore), lim.File); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(b)); err != nil {
			return nil, &Problem{Path: shown + "/" + ignore.HelmIgnore, Msg: err.Error()}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, &Problem{Path: shown + "/" + ignore.HelmIgnore, Msg: err.Error()}
	}
	rules.AddDefaults()

	w := &walker{top: top, shown: shown, lim: lim, read: read, rules: rules, open: map[string]bool{top: true}}
	w.dir(top, "")
	if len(w.problems) > 0 {
		return nil, errors.Join(w.problems...)
	}
	sort.Slice(w.files, func(i, j int) bool { return w.files[i].name() < w.files[j].name() })
	return w.files, nil
}

type walker struct {
	top, shown string
	lim        Limits
	read       bool
	rules      *ignore.Rules
	// open holds the real directories being walked, so a symlink back up
	// the tree is refused rather than followed forever.
	open     map[string]bool
	total    int64
	files    []walked
	problems []error
}

// walked is a file found: read, or described.
type walked struct {
	file  *archive.BufferedFile
	entry Entry
}

func (w walked) name() string {
	if w.file != nil {
		return w.file.Name
	}
	return w.entry.Name
}

func (w *walker) fail(name, format string, args ...any) {
	w.problems = append(w.problems, &Problem{Path: w.shown + "/" + name, Msg: fmt.Sprintf(format, args...)})
}

// dir walks the real directory real, whose files Helm names under prefix.
func (w *walker) dir(real, prefix string) {
	entries, err := os.ReadDir(real)
	if err != nil {
		w.fail(strings.TrimSuffix(prefix, "/"), "%v", err)
		return
	}
	for _, e := range entries {
		name := prefix + e.Name()
		path := filepath.Join(real, e.Name())
		info, err := os.Lstat(path)
		if err != nil {
			w.fail(name, "%v", err)
			continue
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(path)
			if err != nil {
				w.fail(name, "symlink: %v", err)
				continue
			}
			if !Inside(target, w.top) {
				link, _ := os.Readlink(path)
				w.fail(name, "symlink to %s leaves the chart directory", link)
				continue
			}
			if info, err = os.Stat(target); err != nil {
				w.fail(name, "%v", err)
				continue
			}
			path = target
		}
		if info.IsDir() {
			if w.rules.Ignore(name, info) {
				continue
			}
			if w.open[path] {
				w.fail(name, "symlink loops back to a directory that contains it")
				continue
			}
			w.open[path] = true
			w.dir(path, name+"/")
			delete(w.open, path)
			continue
		}
		if w.rules.Ignore(name, info) {
			continue
		}
		if !info.Mode().IsRegular() {
			w.fail(name, "not a regular file (%s)", regular.Kind(info.Mode()))
			continue
		}
		if info.Size() > w.lim.File {
			w.fail(name, "%d bytes, over the limit of %d for one file", info.Size(), w.lim.File)
			continue
		}
		if w.total += info.Size(); w.total > w.lim.Chart {
			w.fail(name, "the chart's files pass the limit of %d bytes for one chart", w.lim.Chart)
			return
		}
		if !w.read {
			w.files = append(w.files, walked{entry: Entry{Name: name, Stat: statOf(info)}})
			continue
		}
		data, err := regular.Read(path, w.lim.File)
		if err != nil {
			w.fail(name, "%v", err)
			continue
		}
		w.files = append(w.files, walked{file: &archive.BufferedFile{Name: name, ModTime: info.ModTime(), Data: bytes.TrimPrefix(data, utf8BOM)}})
	}
}

// ReadFile reads the file rel of the chart directory dir (a values file),
// which must be a regular file inside it of at most max bytes.
func ReadFile(dir, rel string, max int64) ([]byte, error) {
	if filepath.IsAbs(rel) || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return nil, fmt.Errorf("%s is not a path inside the chart directory", rel)
	}
	top, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	path, err := filepath.EvalSymlinks(filepath.Join(top, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	if !Inside(path, top) {
		return nil, fmt.Errorf("%s resolves to %s, outside the chart directory", rel, path)
	}
	return regular.Read(path, max)
}
