package main

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"vxway/clock"
	"vxway/testsupport"
)

// TestKeepServingRestarts runs a server that fails twice (once by
// panicking) and then serves: init must start it again after each failure,
// after 1 s and then 2 s on its clock, on a new listener, and stop doing so
// at shutdown.
func TestKeepServingRestarts(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	console := &testsupport.SyncBuffer{}
	d := &device{console: console, clock: clk}
	calls := make(chan net.Listener)
	run := 0
	serve := func(l net.Listener) error {
		calls <- l
		run++
		switch run {
		case 1:
			return errors.New("accept: too many open files")
		case 2:
			panic("broken")
		}
		for {
			c, err := l.Accept()
			if err != nil {
				return nil
			}
			c.Close()
		}
	}
	if err := d.serve("test", "127.0.0.1:0", serve); err != nil {
		t.Fatal(err)
	}
	next := func() net.Listener {
		t.Helper()
		select {
		case l := <-calls:
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("the server was not started again; console:\n%s", console.String())
			return nil
		}
	}
	advance := func(want time.Duration) {
		t.Helper()
		for i := 0; clk.Pending() == 0; i++ {
			if i > 10000 {
				t.Fatal("no restart was scheduled")
			}
			time.Sleep(time.Millisecond) // waiting for the other goroutine, not timing
		}
		start := clk.Now()
		for clk.Pending() > 0 {
			clk.Advance(100 * time.Millisecond)
		}
		if got := clk.Now().Sub(start); got != want {
			t.Errorf("restarted after %v, want %v", got, want)
		}
	}
	l1 := next()
	advance(time.Second)
	l2 := next()
	advance(2 * time.Second)
	l3 := next()
	if l1 == l2 || l2 == l3 {
		t.Error("the server was restarted on the listener it stopped with")
	}
	if got := d.addrs(); len(got) != 1 || got[0] != l3.Addr().String() {
		t.Errorf("listening on %v, want only %s", got, l3.Addr())
	}
	out := console.String()
	for _, want := range []string{"test: server stopped (accept: too many open files); starting it again in 1s", "test: server stopped (internal error: broken); starting it again in 2s"} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	// Shutdown closes the listener; the server is not started again.
	d.mu.Lock()
	d.closing = true
	for _, l := range d.listeners {
		l.Close()
	}
	d.mu.Unlock()
	time.Sleep(50 * time.Millisecond) // give a wrong restart the chance to show
	if clk.Pending() != 0 {
		t.Error("a restart was scheduled after shutdown")
	}
}
