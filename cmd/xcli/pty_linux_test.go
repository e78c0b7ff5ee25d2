package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vxway/platform"
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

// console collects what the program writes to its terminal.
type console struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// waitFor polls the console for text; the deadline only bounds a hung
// program, no timing is asserted.
func (c *console) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(c.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it shows:\n%s", text, c.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	var con console
	done := make(chan struct{})
	go func() {
		io.Copy(&con, master) // ends with EIO when the program exits
		close(done)
	}()

	const pw = "S3cret-on-tty"
	con.waitFor(t, "New password: ")
	master.WriteString(pw + "\n")
	con.waitFor(t, "Retype new password: ")
	master.WriteString(pw + "\n")
	err := cmd.Wait()
	<-done
	if err != nil {
		var ee *exec.ExitError
		errors.As(err, &ee)
		t.Fatalf("passwd: %v\n%s", err, con.String())
	}
	if strings.Contains(con.String(), pw) {
		t.Errorf("the password was echoed:\n%s", con.String())
	}
	if !strings.Contains(con.String(), "password for admin changed") {
		t.Errorf("no confirmation:\n%s", con.String())
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
	var con console
	done := make(chan struct{})
	go func() {
		io.Copy(&con, master)
		close(done)
	}()

	con.waitFor(t, "xshell> ")
	master.WriteString("xstatus SystemUnit ProductBrand\n")
	con.waitFor(t, "*s SystemUnit ProductBrand: \"Expressway\"\r\nOK\r\nxshell> ")
	master.WriteString("xcommand Something half typed\x03")
	master.WriteString("xstatus SystemUnit ProductType\n")
	con.waitFor(t, "*s SystemUnit ProductType: \"Expressway-C\"\r\nOK\r\nxshell> ")
	master.WriteString("\x04")
	err := cmd.Wait()
	<-done
	if err != nil {
		t.Fatalf("xshell: %v\n%s", err, con.String())
	}
	if strings.Contains(con.String(), "Something") && strings.Contains(con.String(), "no such path") {
		t.Errorf("the line cut by Ctrl-C was run:\n%s", con.String())
	}
}
