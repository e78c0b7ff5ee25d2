package vmtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// SSH runs cmd on the device over SSH (the host port Boot forwards to the
// guest's 22) as user with password, and returns the output (stdout and
// stderr) and the exit code. root's cmd runs in the root shell (`sh -c`);
// admin's cmd is fed to the xAPI shell, one request per line. Long
// commands are much faster this way than typed on the emulated console.
// The test fails when the SSH connection itself fails.
func (v *VM) SSH(t testing.TB, user, password, cmd string) (string, int) {
	t.Helper()
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.Password(password)},
		// The host key is the device's own, made at its first boot.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         CommandTimeout,
	}
	c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", v.SSHPort), cfg)
	if err != nil {
		t.Fatalf("ssh %s@127.0.0.1:%d: %v", user, v.SSHPort, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("ssh session: %v", err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	var exit *ssh.ExitError
	switch {
	case errors.As(err, &exit):
		return strings.TrimRight(string(out), "\n"), exit.ExitStatus()
	case err != nil:
		t.Fatalf("ssh %s %q: %v\n%s", user, cmd, err, out)
	}
	return strings.TrimRight(string(out), "\n"), 0
}

// RootPassword is the root password the VM tests set on the console so
// that root can log in over SSH: the device refuses root's default
// password over SSH until it is changed.
const RootPassword = "Vm-Root-pass1"

// SetRootPassword logs in as root on the console with password, sets
// newPassword with passwd, and logs out.
func (v *VM) SetRootPassword(t testing.TB, password, newPassword string) {
	t.Helper()
	v.Login(t, "root", password)
	v.Run(t, fmt.Sprintf("printf '%s\\n%s\\n' | passwd root", newPassword, newPassword))
	v.Logout(t)
}

// SSHLogin tries to log in over SSH as user with password and returns
// the error, nil when the login succeeds (the connection is closed).
func (v *VM) SSHLogin(user, password string) error {
	c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", v.SSHPort), &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         CommandTimeout,
	})
	if err != nil {
		return err
	}
	return c.Close()
}

// SSHShell logs in over SSH as user with password and starts the
// account's shell without a terminal, reading from a pipe; the session
// stays until the returned function closes it.
func (v *VM) SSHShell(t testing.TB, user, password string) (closeSession func()) {
	t.Helper()
	c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", v.SSHPort), &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         CommandTimeout,
	})
	if err != nil {
		t.Fatalf("ssh %s@127.0.0.1:%d: %v", user, v.SSHPort, err)
	}
	s, err := c.NewSession()
	if err != nil {
		c.Close()
		t.Fatalf("ssh session: %v", err)
	}
	in, err := s.StdinPipe()
	if err == nil {
		err = s.Shell()
	}
	if err != nil {
		s.Close()
		c.Close()
		t.Fatalf("ssh %s shell: %v", user, err)
	}
	return func() {
		in.Close()
		s.Close()
		c.Close()
	}
}
