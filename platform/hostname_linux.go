package platform

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// applyHostname sets the running kernel's host name when root is the real
// root; a device tree under a test directory only gets the file.
func applyHostname(root, name string) error {
	if filepath.Clean(root) != "/" {
		return nil
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("setting the host name to %q: %w", name, err)
	}
	return nil
}
