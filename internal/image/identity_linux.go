package image

import (
	"os"
	"syscall"
)

func sysIdentity(fi os.FileInfo, id *fileIdentity) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	id.dev, id.ino = uint64(st.Dev), st.Ino
	id.ctimeNs = st.Ctim.Nano()
	return true
}
