package chartdir

import (
	"io/fs"
	"syscall"
)

func statOf(info fs.FileInfo) Stat {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return Stat{Size: info.Size()}
	}
	return Stat{
		Size: info.Size(), ModNs: st.Mtim.Nano(), ChangeNs: st.Ctim.Nano(),
		Inode: st.Ino, Device: uint64(st.Dev), Ok: true,
	}
}
