package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive lock that serialises read-modify-write cycles of
// the file path between processes (two admin sessions changing the same
// settings at once). The lock is the file ".<name>.lock" beside path;
// unlock releases it.
func Lock(path string) (unlock func(), err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	lp := filepath.Join(dir, "."+filepath.Base(path)+".lock")
	// Read access is all flock needs: a lock made by root stays usable by
	// the other members of a shared directory's group.
	f, err := os.OpenFile(lp, os.O_RDONLY|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", lp, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", lp, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
