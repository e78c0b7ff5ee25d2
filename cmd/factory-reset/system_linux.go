package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// freeSpace reports the bytes an unprivileged writer could still use on
// the filesystem of dir (root may use a little more).
func freeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading the free space of %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// isMountPoint reports whether dir is the root of a mounted filesystem:
// it sits on another device than its parent.
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false, fmt.Errorf("reading %s: %w", dir, err)
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, fmt.Errorf("reading %s: %w", filepath.Dir(dir), err)
	}
	return st.Dev != parent.Dev, nil
}

// initRebooter asks init (PID 1) for a clean reboot with SIGTERM: it
// stops the services, syncs and unmounts the partitions, and reboots. It
// returns when ctx ends (init's shutdown signals this process). If the
// machine is still up after a minute it syncs and reboots itself; the
// request is already safe on persist.
type initRebooter struct{}

func (initRebooter) Reboot(ctx context.Context) error {
	if err := unix.Kill(1, unix.SIGTERM); err != nil {
		return fmt.Errorf("asking init to reboot: %w", err)
	}
	// Init's shutdown sends this process SIGTERM, which ends ctx: leave
	// at once then, so the shutdown does not wait for us.
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Minute):
	}
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		return fmt.Errorf("init did not reboot within a minute, and reboot(2): %w", err)
	}
	return nil
}
