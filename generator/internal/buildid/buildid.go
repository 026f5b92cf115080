// Package buildid identifies the running distgen binary, so that what a
// cache keeps from one binary is never read by another.
package buildid

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
)

var (
	once sync.Once
	id   string
	err  error
)

// ID is the running binary's Go build ID, which changes with any of its
// sources, or else a hash of the file.
func ID() (string, error) {
	once.Do(func() {
		exe, e := os.Executable()
		if e != nil {
			err = e
			return
		}
		if f, e := elf.Open(exe); e == nil {
			defer f.Close()
			if sec := f.Section(".note.go.buildid"); sec != nil {
				if data, e := sec.Data(); e == nil && len(data) > 0 {
					id = "go-buildid:" + string(data)
					return
				}
			}
		}
		f, e := os.Open(exe)
		if e != nil {
			err = e
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, e := io.Copy(h, f); e != nil {
			err = e
			return
		}
		id = "sha256:" + hex.EncodeToString(h.Sum(nil))
	})
	if err != nil {
		return "", errors.Join(errors.New("identifying the distgen binary for the build cache"), err)
	}
	return id, nil
}
