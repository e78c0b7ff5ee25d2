//go:build !linux

package backup

import "errors"

// RequestReboot is for the device, which runs Linux.
func RequestReboot() error { return errors.New("restarting is supported on the device only") }
