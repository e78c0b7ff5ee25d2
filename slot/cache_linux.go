package slot

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to forget the cached pages of a synced file,
// so that reading it back reads the disk, not memory.
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
