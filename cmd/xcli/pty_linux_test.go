package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vxway/platform"
	"vxway/testsupport"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pty: %v", err)
	}
	return m, s
}

// TestPasswdOnTerminal runs passwd on a real pseudo-terminal: the password
// must not be echoed, and the change must take.
func TestPasswdOnTerminal(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "Expressway")
	master, slave := openPTY(t)
	defer master.Close()

	cmd := exec.Command(filepath.Join(bin, "passwd"), "admin")
	cmd.Env = append(os.Environ(), "VXWAY_ROOT="+root)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	con := testsupport.NewTranscript(master) // ends with EIO when the program exits

	const pw = "S3cret-on-tty"
	at := con.WaitFor(t, 0, "New password: ")
	master.WriteString(pw + "\n")
	con.WaitFor(t, at, "Retype new password: ")
	master.WriteString(pw + "\n")
	err := cmd.Wait()
	out := con.WaitEnd(t)
	if err != nil {
		var ee *exec.ExitError
		errors.As(err, &ee)
		t.Fatalf("passwd: %v\n%s", err, out)
	}
	if strings.Contains(out, pw) {
		t.Errorf("the password was echoed:\n%s", out)
	}
	if !strings.Contains(out, "password for admin changed") {
		t.Errorf("no confirmation:\n%s", out)
	}
	if err := platform.NewUsers(root, nil).Check("admin", pw); err != nil {
		t.Errorf("the new password does not log in: %v", err)
	}
}

// TestXShellOnTerminal drives the interactive shell on a pseudo-terminal as
// the admin login does: prompt, a request, Ctrl-C on a half-typed line
// (the session goes on), then Ctrl-D ends it.
func TestXShellOnTerminal(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "Expressway")
	master, slave := openPTY(t)
	defer master.Close()

	cmd := exec.Command(filepath.Join(bin, "xshell"))
	cmd.Args[0] = "-xshell"
	cmd.Env = append(os.Environ(), "VXWAY_ROOT="+root)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	con := testsupport.NewTranscript(master) // ends with EIO when the program exits

	at := con.WaitFor(t, 0, "xshell> ")
	master.WriteString("xstatus SystemUnit ProductBrand\n")
	at = con.WaitFor(t, at, "*s SystemUnit ProductBrand: \"Expressway\"\r\nOK\r\nxshell> ")
	master.WriteString("xcommand Something half typed\x03")
	master.WriteString("xstatus SystemUnit ProductType\n")
	con.WaitFor(t, at, "*s SystemUnit ProductType: \"Expressway-C\"\r\nOK\r\nxshell> ")
	master.WriteString("\x04")
	err := cmd.Wait()
	out := con.WaitEnd(t)
	if err != nil {
		t.Fatalf("xshell: %v\n%s", err, out)
	}
	if strings.Contains(out, "Something") && strings.Contains(out, "no such path") {
		t.Errorf("the line cut by Ctrl-C was run:\n%s", out)
	}
}
