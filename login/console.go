package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// Console is the login prompt on a terminal (the serial console ttyS0 on
// the device): "login:", then "Password:" without echo, then the account's
// shell; when the shell ends the prompt comes back.
type Console struct {
	TTY      string // terminal device path, /dev/ttyS0 on the device
	Accounts []Account
	Checker  Checker
	Runner   Runner        // how shells are started; direct when nil
	Hostname func() string // shown before "login:"; none when nil
	Term     string        // TERM for the shell
	// FailDelay is the pause after a wrong password; Sleep is how it
	// pauses (time.Sleep when nil).
	FailDelay time.Duration
	Sleep     func(time.Duration)
	Log       io.Writer // init's console lines; may be nil
}

func (c *Console) runner() Runner {
	if c.Runner == nil {
		return directRunner{}
	}
	return c.Runner
}

func (c *Console) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "init: "+format+"\n", args...)
	}
}

// The pause before the console is tried again after a failure doubles
// from consoleRetryMin to consoleRetryMax while the failures last.
const (
	consoleRetryMin = time.Second
	consoleRetryMax = 30 * time.Second
)

// Serve runs login sessions on c.TTY until ctx ends, reopening the
// terminal for each. It returns only then: a terminal that cannot be
// opened (out of file descriptors, say) or a session that fails is logged
// and tried again after a pause, so the console is never lost for good.
func (c *Console) Serve(ctx context.Context) error {
	pause := time.Duration(0)
	for ctx.Err() == nil {
		err := c.openAndServe()
		if err == nil || errors.Is(err, io.EOF) {
			pause = 0
			continue
		}
		if pause == 0 {
			pause = consoleRetryMin
		} else {
			pause = min(2*pause, consoleRetryMax)
		}
		c.logf("console login: %v; trying again in %v", err, pause)
		c.sleep(pause)
	}
	return ctx.Err()
}

// openAndServe opens the terminal and runs one login session on it.
func (c *Console) openAndServe() error {
	tty, err := os.OpenFile(c.TTY, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", c.TTY, err)
	}
	defer tty.Close()
	return c.Session(tty)
}

func (c *Console) sleep(d time.Duration) {
	if c.Sleep != nil {
		c.Sleep(d)
		return
	}
	time.Sleep(d)
}

// Session runs one login on tty: it prompts until a user logs in, runs the
// shell and returns when the shell ends. It returns io.EOF when the
// terminal closes before anyone logs in.
func (c *Console) Session(tty *os.File) error {
	saved := saveTerm(tty)
	defer saved.restore(tty)
	for {
		saved.restore(tty) // a shell may have left the terminal odd
		prompt := "login: "
		if c.Hostname != nil {
			prompt = c.Hostname() + " login: "
		}
		if _, err := io.WriteString(tty, "\n"+prompt); err != nil {
			return fmt.Errorf("writing the prompt: %w", err)
		}
		user, err := readLine(tty)
		if err != nil {
			return err
		}
		user = strings.TrimSpace(user)
		if user == "" {
			continue
		}
		// Echo goes off before the prompt shows, so nothing typed after
		// the prompt is echoed.
		if err := setEcho(tty, false); err != nil {
			return err
		}
		io.WriteString(tty, "Password: ")
		password, err := readLine(tty)
		setEcho(tty, true)
		io.WriteString(tty, "\n")
		if err != nil {
			return err
		}
		acct, err := authenticate(c.Accounts, c.Checker, user, password)
		if err != nil {
			c.sleep(c.FailDelay)
			io.WriteString(tty, "Login incorrect\n")
			continue
		}
		return c.shell(tty, acct)
	}
}

// readLine reads one line a byte at a time, so nothing meant for the shell
// is read ahead.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	var buf [1]byte
	for {
		n, err := r.Read(buf[:])
		if n == 1 {
			switch buf[0] {
			case '\n', '\r':
				return b.String(), nil
			default:
				if b.Len() < 1024 {
					b.WriteByte(buf[0])
				}
			}
			continue
		}
		if err != nil {
			if errors.Is(err, syscall.EIO) {
				err = io.EOF
			}
			return "", err
		}
	}
}

func (c *Console) shell(tty *os.File, a Account) error {
	cmd := a.command("", c.Term, nil)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = sessionAttr(true, a.Credential)
	if err := c.runner().Start(cmd); err != nil {
		fmt.Fprintf(tty, "cannot start the shell %s: %v\n", a.Shell, err)
		return fmt.Errorf("starting %s for %s: %w", a.Shell, a.Name, err)
	}
	err := c.runner().Wait(cmd)
	var exitErr interface{ ExitCode() int }
	if err != nil && !errors.As(err, &exitErr) {
		return fmt.Errorf("waiting for the shell of %s: %w", a.Name, err)
	}
	return nil
}
