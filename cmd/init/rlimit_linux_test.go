package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestRaiseFileLimit lowers the test process's soft limit and checks that
// raiseFileLimit brings it up to what was asked (as far as the hard limit
// allows without privilege).
func TestRaiseFileLimit(t *testing.T) {
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &saved) })
	if saved.Max < 2048 {
		t.Skipf("the hard open-file limit is %d; the test needs 2048", saved.Max)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 256, Max: saved.Max}); err != nil {
		t.Fatal(err)
	}
	got, err := raiseFileLimit(2048)
	if err != nil || got != 2048 {
		t.Fatalf("raiseFileLimit(2048) = %d, %v", got, err)
	}
	var now unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &now)
	if now.Cur != 2048 {
		t.Errorf("soft limit %d after raising, want 2048", now.Cur)
	}
	// Already high enough: nothing changes.
	if got, err := raiseFileLimit(1024); err != nil || got != 2048 {
		t.Errorf("raiseFileLimit(1024) = %d, %v; want 2048 kept", got, err)
	}
	// Beyond the hard limit without privilege: as far as it goes, and an
	// error saying so.
	if unix.Geteuid() != 0 && saved.Max < 1<<30 {
		got, err := raiseFileLimit(saved.Max + 1)
		if err == nil || got != saved.Max {
			t.Errorf("raiseFileLimit over the hard limit = %d, %v; want %d and an error", got, err, saved.Max)
		}
	}
}
