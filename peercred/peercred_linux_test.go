package peercred

import (
	"errors"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPeerUID: the user id of the other end of a socket pair is the
// kernel's, our own.
func TestPeerUID(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		uid, err := UID(c)
		if err != nil {
			t.Fatalf("end %d: %v", i, err)
		}
		if want := uint32(os.Getuid()); uid != want {
			t.Fatalf("end %d: peer uid %d, want %d", i, uid, want)
		}
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := UID(a); !errors.Is(err, ErrUnknown) {
		t.Fatalf("UID of a pipe = %v, want ErrUnknown", err)
	}
}
