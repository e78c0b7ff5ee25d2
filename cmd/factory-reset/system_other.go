//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

// isTerminal reports false: the command runs only on the Linux device.
func isTerminal(io.Reader) bool { return false }

// freeSpace is known only on the Linux device.
func freeSpace(string) (int64, error) {
	return 0, errors.New("the free space of persist is known only on the Linux device")
}

// isMountPoint is known only on the Linux device.
func isMountPoint(string) (bool, error) {
	return false, errors.New("mount points are known only on the Linux device")
}

type initRebooter struct{}

func (initRebooter) Reboot(context.Context) error {
	return errors.New("rebooting is supported only on the Linux device")
}
