// Package clock gives the device and the manager an injectable source of
// time, so that timers of days and months are tested by moving a fake clock
// instead of sleeping.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock is what code that reads the time or waits for it depends on.
type Clock interface {
	// Now reports the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed and returns
	// a Timer that can stop the call.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call and reports whether it was still pending.
	Stop() bool
}

// Monotonic reports c's monotonic reading: the time elapsed since an
// origin of c's choosing, which steps of the wall clock (an administrator
// setting the date, NTP) do not move. Real reads the runtime's monotonic
// clock; Fake moves it only as time passes (Advance, Set forward). A
// clock of another kind gives its wall time.
func Monotonic(c Clock) time.Duration {
	if m, ok := c.(interface{ Monotonic() time.Duration }); ok {
		return m.Monotonic()
	}
	return time.Duration(c.Now().UnixNano())
}

// Real is the wall clock.
type Real struct{}

// origin is the process's first reading of the runtime clock; Real's
// monotonic readings count from it.
var origin = time.Now()

// Monotonic reports the monotonic time since the process started.
func (Real) Monotonic() time.Duration { return time.Since(origin) }

// Now reports time.Now.
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Fake is a clock that moves only when told to. It is safe for concurrent
// use. Callbacks whose time has come run synchronously inside Advance and
// Set, in order of their due time, so a test sees their effects as soon as
// Advance returns.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	mono   time.Duration
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c   *Fake
	at  time.Time
	seq int
	f   func()
}

// NewFake returns a fake clock showing t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now reports the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f for d after the fake time.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop removes the timer if it has not fired.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, o := range t.c.timers {
		if o == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Monotonic reports how much fake time has passed: Advance and Set forward
// add to it, Set backward (a wall clock stepped back) does not take from
// it.
func (c *Fake) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Pending reports how many timers are waiting.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock forward by d, firing every timer due on the way
// at its own due time.
func (c *Fake) Advance(d time.Duration) {
	c.Set(c.Now().Add(d))
}

// Set moves the clock to t. Moving it backwards fires nothing; timers keep
// their absolute due times, as a wall clock stepped back would.
func (c *Fake) Set(t time.Time) {
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(t) {
			if t.After(c.now) {
				c.mono += t.Sub(c.now)
			}
			c.now = t
			c.mu.Unlock()
			return
		}
		next := c.timers[0]
		c.timers = c.timers[1:]
		if next.at.After(c.now) {
			c.mono += next.at.Sub(c.now)
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// Sleep waits until d has passed on c.
func Sleep(c Clock, d time.Duration) {
	done := make(chan struct{})
	c.AfterFunc(d, func() { close(done) })
	<-done
}
