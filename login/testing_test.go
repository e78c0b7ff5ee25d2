package login

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/platform"
)

// newUsers makes a root whose image facts give root the password
// rootpass1 and admin adminpass1, and returns the platform's users store.
func newUsers(t *testing.T) *platform.Users {
	t.Helper()
	root := t.TempDir()
	rh, err := platform.HashPassword("rootpass1", "")
	if err != nil {
		t.Fatal(err)
	}
	ah, err := platform.HashPassword("adminpass1", "")
	if err != nil {
		t.Fatal(err)
	}
	info := &platform.ImageInfo{Hostname: "vx1", PasswordHashes: platform.PasswordHashes{Root: rh, Admin: ah}}
	if err := platform.WriteImageInfo(root, info); err != nil {
		t.Fatal(err)
	}
	return platform.NewUsers(root, nil)
}

// testAccounts gives both accounts /bin/sh, so the tests see which account
// logged in from $USER.
func testAccounts() []Account {
	return []Account{
		{Name: "root", Shell: "/bin/sh", Home: "/"},
		{Name: "admin", Shell: "/bin/sh", Home: "/"},
	}
}

// transcript collects what a terminal's far side reads, and waits for text.
type transcript struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond *sync.Cond
	done bool
}

func newTranscript(r io.Reader) *transcript {
	tr := &transcript{}
	tr.cond = sync.NewCond(&tr.mu)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			tr.mu.Lock()
			tr.buf.Write(b[:n])
			if err != nil {
				tr.done = true
			}
			tr.cond.Broadcast()
			tr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tr
}

// waitFor waits until the transcript, from offset from on, holds s and
// returns the offset just after it.
func (tr *transcript) waitFor(t *testing.T, from int, s string) int {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, func() {
		tr.mu.Lock()
		tr.done = true
		tr.cond.Broadcast()
		tr.mu.Unlock()
	})
	defer timer.Stop()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for {
		if i := strings.Index(tr.buf.String()[from:], s); i >= 0 {
			return from + i + len(s)
		}
		if tr.done {
			t.Fatalf("%q never came; transcript:\n%s", s, tr.buf.String())
		}
		tr.cond.Wait()
	}
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.buf.String()
}

// logBuffer is a bytes.Buffer safe for the server's goroutines to write
// while a test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
