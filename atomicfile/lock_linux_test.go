package atomicfile

import (
	"path/filepath"
	"testing"
	"time"
)

func TestLockSerialises(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config", "network.json")
	unlock, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		// flock locks belong to open files, so a second Lock in the same
		// process waits like another process would.
		u2, err := Lock(p)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		close(got)
		u2()
	}()
	select {
	case <-got:
		t.Fatal("a second Lock was granted while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	<-got
}
