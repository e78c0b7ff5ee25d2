package supervise

import (
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReaperCollectsOrphansOnly(t *testing.T) {
	// Become the subreaper so the orphan comes to this process, as orphans
	// come to PID 1 on the device.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a subreaper: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	r := &Reaper{}
	ours := exec.Command("/bin/sh", "-c", "exit 7")
	if err := r.Start(ours); err != nil {
		t.Fatal(err)
	}
	parent := exec.Command("/bin/sh", "-c", "sleep 0.2 >/dev/null 2>&1 & echo $!")
	out, err := parent.Output()
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	var reaped []int
	for i := 0; i < 500 && !slices.Contains(reaped, orphan); i++ {
		got, err := r.Reap()
		if err != nil {
			t.Fatal(err)
		}
		reaped = append(reaped, got...)
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Contains(reaped, orphan) {
		t.Fatalf("orphan %d not reaped (reaped %v)", orphan, reaped)
	}
	if slices.Contains(reaped, ours.Process.Pid) {
		t.Fatalf("Reap took init's own child %d", ours.Process.Pid)
	}
	err = r.Wait(ours)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 7 {
		t.Errorf("Wait of own child = %v, want exit status 7", err)
	}
}
