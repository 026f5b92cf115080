// Package scratch makes the temporary directories of a run, and removes
// the ones that runs killed before they could clean up left behind. Each
// directory is locked (flock) for as long as its run holds it, so another
// run can tell a live directory from a leftover one.
package scratch

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// grace spares directories younger than this: a run makes its directory
// and locks it a moment later.
const grace = time.Minute

// Dir is a temporary directory held by this process.
type Dir struct {
	Path string
	lock *os.File
}

// New makes a directory named pattern (as os.MkdirTemp takes it) in parent,
// or in os.TempDir() when parent is empty, after removing the leftovers of
// dead runs that match the same pattern there.
func New(parent, pattern string) (*Dir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	Clean(parent, pattern)
	path, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.RemoveAll(path)
		return nil, err
	}
	return &Dir{Path: path, lock: f}, nil
}

// Remove removes the directory and lets go of it.
func (d *Dir) Remove() error {
	err := os.RemoveAll(d.Path)
	return errors.Join(err, d.Release())
}

// Release lets go of the directory without removing it (it was renamed
// into place, or its content moved elsewhere).
func (d *Dir) Release() error {
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close()
	d.lock = nil
	return err
}

// Clean removes the directories in parent matching pattern that no live
// run holds and that are older than a minute. It reports nothing: what it
// cannot remove costs disk space only.
func Clean(parent, pattern string) {
	matches, _ := filepath.Glob(filepath.Join(parent, globOf(pattern)))
	for _, m := range matches {
		info, err := os.Lstat(m)
		if err != nil || !info.IsDir() || time.Since(info.ModTime()) < grace {
			continue
		}
		f, err := os.Open(m)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(m)
		}
		f.Close()
	}
}

// globOf turns an os.MkdirTemp pattern into a glob of the names it makes.
func globOf(pattern string) string {
	for i := len(pattern) - 1; i >= 0; i-- {
		if pattern[i] == '*' {
			return filepath.Join(escape(pattern[:i]) + "*" + escape(pattern[i+1:]))
		}
	}
	return escape(pattern) + "*"
}

func escape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
