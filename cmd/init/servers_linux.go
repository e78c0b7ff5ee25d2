package main

import (
	"fmt"
	"net"
	"slices"
	"time"

	"vxway/clock"
	"vxway/supervise"
)

// serverBackoff is the pause before a server that stopped is started again:
// 1 s doubling to a minute, back to 1 s after it served for 30 s.
var serverBackoff = supervise.DefaultBackoff

// serve listens on addr and runs serve on the listener in the background,
// keeping it running (see keepServing). Only the first listen is waited
// for, so that boot can report a port that cannot be had.
func (d *device) serve(name, addr string, serve func(net.Listener) error) error {
	return d.serveOn(name, addr, func() (net.Listener, error) { return d.listen(addr) }, serve)
}

// serveOn is serve on the listeners listen makes (addr names them in
// console lines).
func (d *device) serveOn(name, addr string, listen func() (net.Listener, error), serve func(net.Listener) error) error {
	l, err := listen()
	if err != nil {
		return fmt.Errorf("%s: listening on %s: %w", name, addr, err)
	}
	d.setListener(nil, l)
	go d.keepServing(name, addr, listen, l, serve)
	return nil
}

// keepServing runs serve on l and, until shutdown, starts it again after a
// pause whenever it returns or panics, listening anew when the listener is
// gone. The servers run inside init, so nothing else would restart them;
// before this a server that stopped stayed stopped until reboot.
func (d *device) keepServing(name, addr string, listen func() (net.Listener, error), l net.Listener, serve func(net.Listener) error) {
	failures := 0
	for {
		started := d.clock.Now()
		err := runServer(serve, l)
		if d.isClosing() {
			return
		}
		if d.clock.Now().Sub(started) >= serverBackoff.Stable {
			failures = 0
		}
		failures++
		delay := serverBackoff.Delay(failures)
		if err == nil {
			err = fmt.Errorf("it returned")
		}
		d.logf("%s: server stopped (%v); starting it again in %v", name, err, delay)
		l.Close()
		for {
			d.sleep(delay)
			if d.isClosing() {
				return
			}
			nl, err := listen()
			if err == nil {
				d.setListener(l, nl)
				l = nl
				break
			}
			failures++
			delay = serverBackoff.Delay(failures)
			d.logf("%s: listening on %s: %v; trying again in %v", name, addr, err, delay)
		}
	}
}

// runServer runs serve, turning a panic into an error: a fault in one
// server must not take down PID 1.
func runServer(serve func(net.Listener) error, l net.Listener) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("internal error: %v", v)
		}
	}()
	return serve(l)
}

// setListener replaces old (nil: none) by l among the listeners shutdown
// closes. When shutdown has already begun, l is closed at once.
func (d *device) setListener(old, l net.Listener) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		l.Close()
		return
	}
	if i := slices.Index(d.listeners, old); old != nil && i >= 0 {
		d.listeners[i] = l
		return
	}
	d.listeners = append(d.listeners, l)
}

func (d *device) isClosing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closing
}

// sleep waits d on the device's clock.
func (d *device) sleep(dur time.Duration) {
	clock.Sleep(d.clock, dur)
}
