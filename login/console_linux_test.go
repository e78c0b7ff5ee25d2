package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vxway/testsupport"
)

func TestConsoleLogin(t *testing.T) {
	master, slave, err := OpenPTY("/dev")
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer master.Close()
	var slept time.Duration
	c := &Console{
		Accounts:  testAccounts(),
		Checker:   newUsers(t),
		Hostname:  func() string { return "vx1" },
		FailDelay: 2 * time.Second,
		Sleep:     func(d time.Duration) { slept += d },
	}
	done := make(chan error, 1)
	go func() { done <- c.Session(slave); slave.Close() }()
	tr := testsupport.NewTranscript(master)

	// A wrong password is refused and the prompt comes back.
	at := tr.WaitFor(t, 0, "vx1 login: ")
	io.WriteString(master, "root\n")
	at = tr.WaitFor(t, at, "Password: ")
	io.WriteString(master, "wrongpass\n")
	at = tr.WaitFor(t, at, "Login incorrect")
	if slept != 2*time.Second {
		t.Errorf("paused %v after the wrong password, want 2s", slept)
	}
	// An unknown user gets the same answer.
	at = tr.WaitFor(t, at, "login: ")
	io.WriteString(master, "guest\n")
	at = tr.WaitFor(t, at, "Password: ")
	io.WriteString(master, "rootpass1\n")
	at = tr.WaitFor(t, at, "Login incorrect")

	at = tr.WaitFor(t, at, "login: ")
	io.WriteString(master, "admin\n")
	at = tr.WaitFor(t, at, "Password: ")
	// The password is typed with echo off.
	tio, err := getTermios(slave)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO != 0 {
		t.Error("echo is on at the Password: prompt")
	}
	io.WriteString(master, "adminpass1\n")
	io.WriteString(master, "echo logged-in-as-$USER-$PATH; exit\n")
	end := tr.WaitFor(t, at, "logged-in-as-admin-"+DefaultPath)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Session = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Session did not end after the shell exited; transcript:\n%s", tr)
	}
	if out := tr.String(); strings.Contains(out, "adminpass1") || strings.Contains(out, "wrongpass") {
		t.Errorf("a password was echoed:\n%s", out)
	}
	_ = end
}

func TestConsoleEOF(t *testing.T) {
	master, slave, err := OpenPTY("/dev")
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	c := &Console{Accounts: testAccounts(), Checker: newUsers(t)}
	done := make(chan error, 1)
	go func() { done <- c.Session(slave) }()
	tr := testsupport.NewTranscript(master)
	tr.WaitFor(t, 0, "login: ")
	master.Close() // hang up
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("Session after hang-up = %v, want io.EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Session did not notice the hang-up")
	}
	slave.Close()
}

// TestConsoleServeRetries gives the console a terminal that cannot be
// opened: Serve must log, pause longer each time and try again until its
// context ends, never give up.
func TestConsoleServeRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log testsupport.SyncBuffer
	var slept []time.Duration
	c := &Console{
		TTY:      filepath.Join(t.TempDir(), "ttyS0"),
		Accounts: testAccounts(),
		Checker:  newUsers(t),
		Log:      &log,
		Sleep: func(d time.Duration) {
			slept = append(slept, d)
			if len(slept) == 7 {
				cancel()
			}
		},
	}
	if err := c.Serve(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve = %v, want context.Canceled after the retries", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if fmt.Sprint(slept) != fmt.Sprint(want) {
		t.Errorf("pauses %v, want %v", slept, want)
	}
	if !strings.Contains(log.String(), "opening "+c.TTY) {
		t.Errorf("the console log does not name the terminal:\n%s", log.String())
	}
}
