package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// fileLimit is the open-file limit init gives itself (and, by inheritance,
// the services). The kernel starts PID 1 at 1024, raised to 4096 by the Go
// runtime, and init holds every SSH and HTTPS connection and the console:
// about 4,100 connections used to exhaust it. The servers' own connection
// limits keep far below this; the headroom is for everything else.
const fileLimit = 65536

// raiseFileLimit raises the soft and hard open-file limits to n when they
// are lower (the hard limit only as far as the process may: PID 1, as
// root, may go up to fs.nr_open). It reports the soft limit in force.
func raiseFileLimit(n uint64) (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur >= n {
		return lim.Cur, nil
	}
	want := unix.Rlimit{Cur: n, Max: max(lim.Max, n)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
		// Without the privilege to raise the hard limit, go as far as it.
		want = unix.Rlimit{Cur: min(n, lim.Max), Max: lim.Max}
		if err2 := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err2 != nil {
			return lim.Cur, fmt.Errorf("raising the open-file limit to %d: %w", n, err)
		}
		return want.Cur, fmt.Errorf("raising the open-file limit to %d: %w (it is %d)", n, err, want.Cur)
	}
	return n, nil
}
