package backup

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// RequestReboot asks init (process 1) for a clean restart, as the factory
// reset does: init stops the services, syncs and restarts, and applies
// the staged restore early in the next boot.
func RequestReboot() error {
	if err := unix.Kill(1, unix.SIGTERM); err != nil {
		return fmt.Errorf("asking init to restart: %w", err)
	}
	return nil
}
