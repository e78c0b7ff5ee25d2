package image

import (
	"os"
	"syscall"
)

// Allocated returns the bytes a file takes on disk (a sparse image takes
// less than its size).
func Allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
