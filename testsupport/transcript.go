package testsupport

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// TranscriptWait bounds how long a Transcript waits for text that never
// comes, or for a reader that never ends.
const TranscriptWait = 20 * time.Second

// Transcript collects what a reader (the far side of a terminal, a pipe)
// yields, and lets a test wait for text in it.
type Transcript struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	cond  *sync.Cond
	ended bool // the reader failed: EOF, or EIO from a closed terminal
}

// NewTranscript reads r until it fails, in a goroutine of its own.
func NewTranscript(r io.Reader) *Transcript {
	tr := &Transcript{}
	tr.cond = sync.NewCond(&tr.mu)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			tr.mu.Lock()
			tr.buf.Write(b[:n])
			if err != nil {
				tr.ended = true
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

// WaitFor waits until the transcript, from offset from on, holds s and
// returns the offset just after it. It fails the test, showing the
// transcript, when the reader ends or TranscriptWait passes first.
func (tr *Transcript) WaitFor(t testing.TB, from int, s string) int {
	t.Helper()
	at := -1
	tr.wait(func() bool {
		if i := strings.Index(tr.buf.String()[from:], s); i >= 0 {
			at = from + i + len(s)
			return true
		}
		return tr.ended
	})
	if at < 0 {
		t.Fatalf("%q never came; transcript:\n%s", s, tr.String())
	}
	return at
}

// WaitEnd waits until the reader ends and returns the whole transcript. It
// fails the test when TranscriptWait passes first.
func (tr *Transcript) WaitEnd(t testing.TB) string {
	t.Helper()
	if !tr.wait(func() bool { return tr.ended }) {
		t.Fatalf("the reader never ended; transcript:\n%s", tr.String())
	}
	return tr.String()
}

// wait waits, holding tr.mu while it calls done, until done reports true
// or TranscriptWait passes; it reports whether done did.
func (tr *Transcript) wait(done func() bool) bool {
	expired := false
	timer := time.AfterFunc(TranscriptWait, func() {
		tr.mu.Lock()
		expired = true
		tr.cond.Broadcast()
		tr.mu.Unlock()
	})
	defer timer.Stop()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for !done() {
		if expired {
			return false
		}
		tr.cond.Wait()
	}
	return true
}

// String returns everything read so far.
func (tr *Transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.buf.String()
}
