package agent

import (
	"fmt"
	"strings"
	"time"

	"vxway/clock"
)

// Trusted time: the manager's time as the device learns it from signed
// answers to its own requests. Every answer repeats its request's nonce,
// new for each request, so an answer cannot be replayed to move the
// device's notion of time; its timestamp is the manager's clock at that
// moment. The agent keeps the last one with the reading of the monotonic
// clock at its arrival: licensing time is then that manager time plus the
// monotonic time since, whatever the device's own clock does (wrong by
// months, stepped back or forward). Before the first answer of a run the
// device's clock, never earlier than the anchor, plus the offset last
// measured (Registration.Skew) stands in; the evaluation anchor rules
// always use the device's clock.

// ClockOffsetAlarmAfter is how far the device's clock may be from the
// manager's before alarm 30049 asks the administrator to fix NTP.
const ClockOffsetAlarmAfter = 5 * time.Minute

// trustPoint is a manager time and the monotonic reading when it came.
type trustPoint struct {
	mgr  time.Time
	mono time.Duration
}

// learn records mgr, the time of a verified answer that just arrived.
func (a *Agent) learn(mgr time.Time) {
	if mgr.IsZero() {
		return
	}
	a.trust.Store(&trustPoint{mgr: mgr, mono: clock.Monotonic(a.clk)})
}

// trusted reports the manager's time now, when an answer came since the
// agent started.
func (a *Agent) trusted() (time.Time, bool) {
	tp := a.trust.Load()
	if tp == nil {
		return time.Time{}, false
	}
	return tp.mgr.Add(clock.Monotonic(a.clk) - tp.mono), true
}

// syncSkewLocked keeps the registration's offset (manager time minus
// licensing device time now) equal to the trusted time while there is
// one, so that every deadline counted in manager time follows it and a
// restart continues from the offset last seen. Changes under a second
// (the two clocks drifting) are not recorded, to spare the state file.
func (a *Agent) syncSkewLocked(now time.Time) {
	r := a.st.Registration
	if r == nil {
		return
	}
	mgr, ok := a.trusted()
	if !ok {
		return
	}
	if d := mgr.Sub(now) - r.Skew; d >= time.Second || d <= -time.Second {
		r.Skew = mgr.Sub(now)
	}
}

// offsetLocked is the manager's time minus the device's licensing time
// now, and whether it was learned from the manager in this run (else it
// is the offset last measured, or zero when never).
func (a *Agent) offsetLocked(now time.Time) (time.Duration, bool) {
	if mgr, ok := a.trusted(); ok {
		return mgr.Sub(now), true
	}
	if r := a.st.Registration; r != nil {
		return r.Skew, false
	}
	return 0, false
}

// bestTimeLocked is the device's best estimate of the manager's time,
// which requests are stamped with and certificates judged at: the trusted
// time, else the device's clock plus the last offset, but never earlier
// than the image's build time (a clock before it is known to be wrong).
func (a *Agent) bestTimeLocked() time.Time {
	if mgr, ok := a.trusted(); ok {
		return mgr
	}
	now := a.nowLocked()
	if r := a.st.Registration; r != nil {
		now = now.Add(r.Skew)
	}
	return latest(now, a.buildTime)
}

// tlsTime is the time the manager's TLS certificate is judged at: the
// trusted time, else the later of the device's clock and the image's
// build time. It takes no lock: the TLS handshake runs during an exchange.
func (a *Agent) tlsTime() time.Time {
	if mgr, ok := a.trusted(); ok {
		return mgr
	}
	return latest(a.clk.Now(), a.buildTime)
}

func latest(t, u time.Time) time.Time {
	if u.After(t) {
		return u
	}
	return t
}

// clockConditionLocked adds alarm 30049 while the offset learned from the
// manager in this run is more than ClockOffsetAlarmAfter.
func (a *Agent) clockConditionLocked(on map[int]string, now time.Time) {
	off, learned := a.offsetLocked(now)
	if !learned || (off <= ClockOffsetAlarmAfter && off >= -ClockOffsetAlarmAfter) {
		return
	}
	dir := "behind"
	if off < 0 {
		dir, off = "ahead of", -off
	}
	on[AlarmClockOffset] = "the device clock is " + offsetWords(off) + " " + dir + " the license manager's; licensing follows the manager's time. Fix NTP: xconfiguration NTP Server 1 Address: <server>"
}

// offsetWords renders an offset as days, hours and minutes: "100d 0h0m",
// "7m0s".
func offsetWords(d time.Duration) string {
	d = d.Round(time.Minute)
	if days := d / (24 * time.Hour); days > 0 {
		return fmt.Sprintf("%dd %s", days, strings.TrimSuffix((d%(24*time.Hour)).String(), "0s"))
	}
	return d.String()
}
