package login

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenPTY opens a new pseudo-terminal pair from devDir/ptmx (devDir is
// /dev on the device) and returns its master and slave sides.
func OpenPTY(devDir string) (master, slave *os.File, err error) {
	ptmx := filepath.Join(devDir, "ptmx")
	m, err := os.OpenFile(ptmx, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", ptmx, err)
	}
	var n int
	err = control(m, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlocking the pty: %w", err)
		}
		var err error
		if n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN); err != nil {
			return fmt.Errorf("reading the pty number: %w", err)
		}
		return nil
	})
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	name := filepath.Join(devDir, "pts", fmt.Sprint(n))
	s, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return m, s, nil
}

// SetWindowSize sets the terminal size of a pty.
func SetWindowSize(f *os.File, cols, rows uint32) error {
	ws := &unix.Winsize{Col: uint16(cols), Row: uint16(rows)}
	err := control(f, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
	if err != nil {
		return fmt.Errorf("setting the window size: %w", err)
	}
	return nil
}

// termState is a saved terminal mode.
type termState struct{ t *unix.Termios }

// saveTerm reads the terminal mode of f; on a non-terminal it returns a
// state that restores nothing.
func saveTerm(f *os.File) termState {
	t, err := getTermios(f)
	if err != nil {
		return termState{}
	}
	return termState{t: t}
}

// restore puts the saved mode back.
func (s termState) restore(f *os.File) {
	if s.t != nil {
		_ = control(f, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, s.t) })
	}
}

// setEcho turns the echo of typed characters on or off. A non-terminal
// (a pipe in tests) has no echo to change.
func setEcho(f *os.File, on bool) error {
	t, err := getTermios(f)
	if err != nil {
		return nil
	}
	if on {
		t.Lflag |= unix.ECHO
	} else {
		t.Lflag &^= unix.ECHO
	}
	err = control(f, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, t) })
	if err != nil {
		return fmt.Errorf("setting the terminal echo: %w", err)
	}
	return nil
}

// sessionAttr makes the started shell a session leader with the terminal on
// its standard input as controlling terminal, running as cred (nil: as
// the server).
func sessionAttr(ctty bool, cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Setctty: ctty, Ctty: 0, Credential: cred}
}

// control runs fn on f's descriptor without taking f out of the runtime's
// poller (f.Fd would make reads blocking, and Close could then not
// interrupt them).
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// getTermios reads f's terminal mode.
func getTermios(f *os.File) (*unix.Termios, error) {
	var t *unix.Termios
	err := control(f, func(fd int) error {
		var err error
		t, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	})
	return t, err
}

// hangup is the signal a shell gets when its SSH channel closes.
const hangup = syscall.SIGHUP

// signalCode is the shell convention for the exit status of a process a
// signal ended: 128 plus the signal number.
func signalCode(ws any) (int, bool) {
	w, ok := ws.(syscall.WaitStatus)
	if !ok || !w.Signaled() {
		return 0, false
	}
	return 128 + int(w.Signal()), true
}
