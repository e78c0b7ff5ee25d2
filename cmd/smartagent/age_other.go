//go:build !linux

package main

import (
	"errors"
	"time"
)

// processAge is not known off Linux.
func processAge() (time.Duration, error) {
	return 0, errors.New("the process start time is only read on Linux")
}
