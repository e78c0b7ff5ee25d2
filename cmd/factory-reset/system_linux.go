package main

import (
	"context"
	"fmt"
	"io"
	"os"
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

// initRebooter asks init (PID 1) for a clean reboot with SIGTERM: it
// stops the services, syncs and unmounts the partitions, and reboots. If
// the machine is still up after a minute it syncs and reboots itself; the
// request is already safe on persist.
type initRebooter struct{}

func (initRebooter) Reboot(ctx context.Context) error {
	if err := unix.Kill(1, unix.SIGTERM); err != nil {
		return fmt.Errorf("asking init to reboot: %w", err)
	}
	time.Sleep(time.Minute)
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		return fmt.Errorf("init did not reboot within a minute, and reboot(2): %w", err)
	}
	return nil
}
