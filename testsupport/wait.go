package testsupport

import (
	"testing"
	"time"
)

// EventuallyWait bounds how long Eventually polls.
const EventuallyWait = 20 * time.Second

// Eventually polls cond until it holds and fails the test, naming what,
// when EventuallyWait passes first. It is for outcomes of real processes
// and goroutines; timers of the code under test are moved with a fake
// clock instead.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(EventuallyWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
