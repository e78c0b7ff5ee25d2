package login

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"vxway/testsupport"

	"vxway/clock"
)

// errListener is a listener whose Accept returns the errors it is fed,
// then net.ErrClosed once closed.
type errListener struct {
	errs    chan error
	accepts chan struct{} // one value per Accept call
	closed  chan struct{}
	once    sync.Once
}

func newErrListener() *errListener {
	return &errListener{errs: make(chan error), accepts: make(chan struct{}, 100), closed: make(chan struct{})}
}

func (l *errListener) Accept() (net.Conn, error) {
	l.accepts <- struct{}{}
	select {
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *errListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *errListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22} }

// TestSSHServeSurvivesAcceptErrors feeds Serve "too many open files" from
// Accept: it must pause (on the injected clock), accept again, and end
// only when the listener closes.
func TestSSHServeSurvivesAcceptErrors(t *testing.T) {
	key, _, err := LoadOrMakeHostKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	var log testsupport.SyncBuffer
	srv := &SSH{HostKey: key, Accounts: testAccounts(), Checker: newUsers(t), Clock: clk, Log: &log}
	l := newErrListener()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()

	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	waitAccept := func() {
		t.Helper()
		select {
		case <-l.accepts:
		case err := <-done:
			t.Fatalf("Serve returned %v after an accept error; it must go on accepting", err)
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not call Accept")
		}
	}
	waitTimer := func() {
		t.Helper()
		for i := 0; clk.Pending() == 0; i++ {
			select {
			case err := <-done:
				t.Fatalf("Serve returned %v after an accept error; it must go on accepting", err)
			default:
			}
			if i > 10000 {
				t.Fatal("Serve did not pause after an accept error")
			}
			time.Sleep(time.Millisecond) // polling for the other goroutine, not timing
		}
	}
	waitAccept()
	var pauses []time.Duration
	for range 10 {
		l.errs <- emfile
		waitTimer()
		before := clk.Now()
		// The pause ends only when the clock moves; find its length.
		for clk.Pending() > 0 {
			clk.Advance(time.Millisecond)
		}
		pauses = append(pauses, clk.Now().Sub(before))
		waitAccept()
	}
	if pauses[0] != acceptRetryMin || pauses[len(pauses)-1] != acceptRetryMax {
		t.Errorf("pauses %v; want from %v doubling up to %v", pauses, acceptRetryMin, acceptRetryMax)
	}
	if got := log.String(); strings.Count(got, "too many open files") != 1 {
		t.Errorf("the console should name the error once per burst:\n%s", got)
	}
	l.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after close = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end when the listener closed")
	}
}

// dialFrom opens a bare TCP connection to addr from the loopback address
// local (127.0.0.x) and reports whether the server admitted it: an admitted
// connection gets the server's version line, a refused one is closed.
func dialFrom(t *testing.T, local, addr string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing from %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return c, false
		}
		t.Fatalf("reading the version line: %v", err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		t.Fatalf("version line %q", line)
	}
	return c, true
}

// TestSSHStartupLimits holds connections that never log in and checks the
// overall and per-source limits, that a slot comes back when a connection
// ends, and that logged-in sessions do not count.
func TestSSHStartupLimits(t *testing.T) {
	var log testsupport.SyncBuffer
	addr, _, _ := startSSH(t, func(s *SSH) {
		s.MaxStartups, s.MaxStartupsPerSource, s.Log = 3, 2, &log
	})
	a1, ok1 := dialFrom(t, "127.0.0.1", addr)
	_, ok2 := dialFrom(t, "127.0.0.1", addr)
	_, ok3 := dialFrom(t, "127.0.0.1", addr)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("from one address: admitted %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := dialFrom(t, "127.0.0.2", addr); !ok {
		t.Fatal("a second address was refused below the overall limit")
	}
	if _, ok := dialFrom(t, "127.0.0.3", addr); ok {
		t.Fatal("a fourth connection was admitted over the overall limit of 3")
	}
	if !strings.Contains(log.String(), "refusing connections") {
		t.Errorf("no console line about refused connections:\n%s", log.String())
	}
	a1.Close()
	var ok bool
	for range 100 { // the server notices the close a moment later
		if _, ok = dialFrom(t, "127.0.0.1", addr); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ok {
		t.Fatal("the slot of a closed connection did not come back")
	}
}

// TestSSHLoggedInSessionsDoNotCount logs in more sessions than the
// pre-login limit allows at once.
func TestSSHLoggedInSessionsDoNotCount(t *testing.T) {
	addr, hostKey, _ := startSSH(t, func(s *SSH) { s.MaxStartups, s.MaxStartupsPerSource = 2, 2 })
	for i := range 5 {
		c, err := dial(addr, hostKey, "admin", "adminpass1")
		if err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
		defer c.Close()
	}
}

// TestSSHLoginGraceTime checks that a connection that never logs in is
// closed when its time is up.
func TestSSHLoginGraceTime(t *testing.T) {
	addr, _, _ := startSSH(t, func(s *SSH) { s.LoginGraceTime = 200 * time.Millisecond })
	c, ok := dialFrom(t, "127.0.0.1", addr)
	if !ok {
		t.Fatal("refused")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server held an idle unauthenticated connection for 10s")
	}
}

// blockingChecker holds every check until released.
type blockingChecker struct {
	Checker
	entered chan string
	release chan struct{}
}

func (b blockingChecker) Check(user, password string) error {
	b.entered <- user
	<-b.release
	return b.Checker.Check(user, password)
}

// TestSSHPasswordChecksBounded holds one password check and checks that
// another attempt fails at once instead of waiting for or adding to the
// hashing.
func TestSSHPasswordChecksBounded(t *testing.T) {
	bc := blockingChecker{Checker: newUsers(t), entered: make(chan string, 10), release: make(chan struct{})}
	addr, hostKey, _ := startSSH(t, func(s *SSH) { s.Checker, s.MaxPasswordChecks = bc, 1 })
	first := make(chan error, 1)
	go func() {
		c, err := dial(addr, hostKey, "admin", "adminpass1")
		if err == nil {
			c.Close()
		}
		first <- err
	}()
	select {
	case <-bc.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first login never reached the check")
	}
	second := make(chan error, 1)
	go func() {
		c, err := dial(addr, hostKey, "admin", "adminpass1")
		if err == nil {
			c.Close()
		}
		second <- err
	}()
	select {
	case err := <-second:
		if err == nil {
			t.Error("the second login got in while the only check slot was taken")
		}
	case <-bc.entered:
		t.Error("the second login was checked while the only check slot was taken")
	case <-time.After(10 * time.Second):
		t.Error("the second login waited instead of failing at once")
	}
	close(bc.release)
	if err := <-first; err != nil {
		t.Errorf("the first login: %v", err)
	}
}

// TestSSHRootDefaultPasswordConsoleOnly checks that root cannot log in
// over SSH with a password while it has the default one, that admin can,
// and that root can once its password is changed.
func TestSSHRootDefaultPasswordConsoleOnly(t *testing.T) {
	users := newUsers(t)
	var log testsupport.SyncBuffer
	addr, hostKey, _ := startSSH(t, func(s *SSH) {
		s.Accounts = []Account{
			{Name: "root", Shell: "/bin/sh", Home: "/", ConsoleOnlyWhileDefault: true},
			{Name: "admin", Shell: "/bin/sh", Home: "/"},
		}
		s.Checker, s.Defaults, s.Log = users, users, &log
	})
	if c, err := dial(addr, hostKey, "root", "rootpass1"); err == nil {
		c.Close()
		t.Fatal("root logged in over SSH with the default password")
	}
	if !strings.Contains(log.String(), "default password") {
		t.Errorf("the console does not say why root was refused:\n%s", log.String())
	}
	c, err := dial(addr, hostKey, "admin", "adminpass1")
	if err != nil {
		t.Fatalf("admin with the default password: %v", err)
	}
	c.Close()
	if err := users.SetPassword("root", "New-root-pass1"); err != nil {
		t.Fatal(err)
	}
	c, err = dial(addr, hostKey, "root", "New-root-pass1")
	if err != nil {
		t.Fatalf("root after the change: %v", err)
	}
	c.Close()
	if got := strings.Count(log.String(), "refused root"); got != 1 {
		t.Errorf("%d refusal lines, want 1:\n%s", got, log.String())
	}
}
