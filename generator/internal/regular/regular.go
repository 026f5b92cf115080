// Package regular opens and reads files that must be regular files: a
// path is opened without following a link planted at its end and without
// blocking on a FIFO, and anything but a regular file is refused. Chart
// directories and OCI layouts, which distgen does not trust, are read
// through it.
package regular

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file.
var ErrNotRegular = fmt.Errorf("not a regular file")

// Open opens path, which must be a regular file, and returns it with its
// information.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%w (%s)", ErrNotRegular, Kind(info.Mode()))
	}
	return f, info, nil
}

// Read reads path, a regular file of at most max bytes; a file that grows
// while it is read is refused too.
func Read(path string, max int64) ([]byte, error) {
	f, info, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info.Size() > max {
		return nil, fmt.Errorf("%d bytes, over the limit of %d for one file", info.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("over the limit of %d bytes for one file", max)
	}
	return data, nil
}

// Kind names what a file mode says a file is.
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	default:
		return m.Type().String()
	}
}
