//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

// isTerminal reports false: the command runs only on the Linux device.
func isTerminal(io.Reader) bool { return false }

type initRebooter struct{}

func (initRebooter) Reboot(context.Context) error {
	return errors.New("rebooting is supported only on the Linux device")
}
