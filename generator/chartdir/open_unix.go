//go:build unix

package chartdir

import "syscall"

// A resolved path is opened without following a link planted since, and
// without blocking on a FIFO.
const (
	oNoFollow = syscall.O_NOFOLLOW
	oNonBlock = syscall.O_NONBLOCK
)
