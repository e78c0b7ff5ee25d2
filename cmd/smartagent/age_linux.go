package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the process start time in /proc (USER_HZ, 100 on
// every Linux architecture the device runs on).
const userHZ = 100

// processAge is how long ago this process started, to the 10 ms of the
// kernel's record: the start time in /proc/self/stat against
// CLOCK_BOOTTIME. It covers what the program cannot time itself (exec,
// the Go runtime and package initialization).
func processAge() (time.Duration, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, fmt.Errorf("reading /proc/self/stat: %w", err)
	}
	ticks, err := startTicks(string(b))
	if err != nil {
		return 0, fmt.Errorf("parsing /proc/self/stat: %w", err)
	}
	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &now); err != nil {
		return 0, fmt.Errorf("reading CLOCK_BOOTTIME: %w", err)
	}
	return time.Duration(now.Nano()) - time.Duration(ticks)*time.Second/userHZ, nil
}

// startTicks reads the start time (field 22, in clock ticks since boot)
// from a /proc/<pid>/stat line. The command name in parentheses may hold
// spaces and parentheses: fields are counted from the last ')'.
func startTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' after the command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil || ticks < 0 {
		return 0, fmt.Errorf("start time %q is not a tick count", f[19])
	}
	return ticks, nil
}
