package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"vxway/atomicfile"
	"vxway/boot"
)

// PartESP is the GPT name of the EFI system partition.
const PartESP = "ESP"

// LinuxESP mounts the device's ESP (found by its GPT name) on ESPDir,
// one user at a time.
type LinuxESP struct {
	Root string
}

// MountESP takes the ESP lock, mounts the ESP (read-only unless writable)
// and returns its directory; release syncs, unmounts and drops the lock.
func (l LinuxESP) MountESP(ctx context.Context, writable bool) (string, func() error, error) {
	dir := filepath.Join(l.Root, ESPDir)
	unlock, err := atomicfile.Lock(dir)
	if err != nil {
		return "", nil, err
	}
	dev, err := (&boot.Boot{Root: l.Root}).FindPartition(PartESP)
	if err != nil {
		unlock()
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		unlock()
		return "", nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if !writable {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount(dev, dir, "vfat", flags, "flush"); err != nil {
		unlock()
		return "", nil, fmt.Errorf("mounting %s on %s: %w", dev, dir, err)
	}
	release := func() error {
		defer unlock()
		unix.Sync()
		if err := unix.Unmount(dir, 0); err != nil {
			return fmt.Errorf("unmounting %s: %w", dir, err)
		}
		return nil
	}
	return dir, release, nil
}

// RebootDevice asks init (PID 1) for a clean reboot: it stops the
// services, syncs, unmounts and reboots.
func RebootDevice() error {
	if err := unix.Kill(1, unix.SIGTERM); err != nil {
		return fmt.Errorf("asking init to reboot: %w", err)
	}
	return nil
}
