package testsupport

import (
	"io"
	"testing"
)

func TestTranscript(t *testing.T) {
	r, w := io.Pipe()
	tr := NewTranscript(r)
	go func() {
		io.WriteString(w, "login: ")
		io.WriteString(w, "admin\r\nPassword: \r\nlogin: ")
		w.Close()
	}()
	at := tr.WaitFor(t, 0, "login: ")
	if at != len("login: ") {
		t.Errorf("WaitFor returned %d, want the offset just after the text (%d)", at, len("login: "))
	}
	at = tr.WaitFor(t, at, "Password: ")
	at = tr.WaitFor(t, at, "login: ") // the second prompt, not the first again
	if want := len("login: admin\r\nPassword: \r\nlogin: "); at != want {
		t.Errorf("second prompt at %d, want %d", at, want)
	}
	if got := tr.WaitEnd(t); got != "login: admin\r\nPassword: \r\nlogin: " {
		t.Errorf("WaitEnd = %q", got)
	}
}
