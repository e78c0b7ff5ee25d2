// Package login lets the two accounts of the device in: a login prompt on
// the serial console and an SSH server, both checking passwords with the
// platform's users store and starting the account's shell (root: a POSIX
// shell with the core commands; admin: the xAPI shell).
package login

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
)

// Account is a user who may log in, and the shell they get.
type Account struct {
	Name  string
	Shell string // program path on the running system
	Home  string
	// ExecOnStdin runs `ssh host cmd` by feeding cmd to the shell's
	// standard input instead of `shell -c cmd`; the xAPI shell reads its
	// requests that way.
	ExecOnStdin bool
	// ConsoleOnlyWhileDefault refuses the account's password logins over
	// SSH while it has the image's default password: whoever knows the
	// default (it is in the product's documentation) could otherwise log
	// in from the network before anyone changed it.
	ConsoleOnlyWhileDefault bool
	// Credential is the user, group and supplementary groups the shell
	// runs as; nil runs it as the server (root on the device).
	Credential *syscall.Credential
	// SFTP lets the account use the sftp subsystem (scp, sftp), confined
	// to the SSH server's SFTPDir.
	SFTP bool
}

// DefaultPath is the PATH a login shell gets.
const DefaultPath = "/bin:/sbin:/usr/bin:/usr/sbin"

// DefaultAccounts are the device's accounts: root with gosh (and SFTP,
// for copying backups), admin with the xAPI shell. Root logs in over SSH
// with a password only once its default password is changed.
func DefaultAccounts() []Account {
	return []Account{
		{Name: "root", Shell: "/bin/gosh", Home: "/root", ConsoleOnlyWhileDefault: true, SFTP: true},
		{Name: "admin", Shell: "/bin/xshell", Home: "/", ExecOnStdin: true},
	}
}

// Checker decides whether a password is right; platform.Users is one.
type Checker interface {
	Check(user, password string) error
}

// Runner starts programs and waits for them; supervise.Reaper is PID 1's.
type Runner interface {
	Start(cmd *exec.Cmd) error
	Wait(cmd *exec.Cmd) error
}

// directRunner uses exec.Cmd's own Start and Wait.
type directRunner struct{}

func (directRunner) Start(cmd *exec.Cmd) error { return cmd.Start() }
func (directRunner) Wait(cmd *exec.Cmd) error  { return cmd.Wait() }

// ErrLoginIncorrect is the one answer to a wrong user or a wrong password;
// it does not say which.
var ErrLoginIncorrect = errors.New("login incorrect")

// authenticate returns the account when user and password are right.
func authenticate(accounts []Account, c Checker, user, password string) (Account, error) {
	for _, a := range accounts {
		if a.Name != user {
			continue
		}
		if err := c.Check(user, password); err != nil {
			return Account{}, fmt.Errorf("%w: %w", ErrLoginIncorrect, err)
		}
		return a, nil
	}
	return Account{}, ErrLoginIncorrect
}

// command returns the shell of a, interactive when script is empty, else
// running script as `shell -c script`.
func (a Account) command(script string, term string, extraEnv []string) *exec.Cmd {
	var cmd *exec.Cmd
	if script == "" || a.ExecOnStdin {
		cmd = exec.Command(a.Shell)
	} else {
		cmd = exec.Command(a.Shell, "-c", script)
	}
	// argv[0] stays the program's own name: the u-root busybox and xcli
	// pick the command by it, so the "-sh" login-shell convention would
	// break them.
	if script != "" && a.ExecOnStdin {
		cmd.Stdin = strings.NewReader(script + "\n")
	}
	cmd.Dir = a.Home
	cmd.Env = append([]string{
		"PATH=" + DefaultPath,
		"HOME=" + a.Home,
		"USER=" + a.Name,
		"LOGNAME=" + a.Name,
		"SHELL=" + a.Shell,
	}, extraEnv...)
	if term != "" {
		cmd.Env = append(cmd.Env, "TERM="+term)
	}
	return cmd
}
