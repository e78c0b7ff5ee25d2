package agent

import (
	"fmt"
	"time"
)

// The scheduler: one timer armed for the next deadline of any kind (a
// renewal, a retry, a usage report, an expiry to show), and one step that
// runs whatever is due when it fires. Nothing polls.

// The licensing periods (docs/licensing.md#registration and
// docs/licensing.md#evaluation).
const (
	EvaluationPeriod   = 90 * 24 * time.Hour
	AuthRenewEvery     = 30 * 24 * time.Hour
	AuthValidFor       = 90 * 24 * time.Hour
	RetryEvery         = 15 * time.Minute
	UsageReportEvery   = 6 * time.Hour
	expiringSoon       = 30 * 24 * time.Hour
	anchorRefreshEvery = 24 * time.Hour
	anchorWriteStep    = 6 * time.Hour
	newTypeDelay       = time.Minute
	defaultTimeout     = 30 * time.Second
)

// regRenewAfter is when a registration is renewed: six calendar months.
func regRenewAfter(t time.Time) time.Time { return t.AddDate(0, 6, 0) }

// every renders an interval in words for a log line or a message: "15
// minutes", "1 hour", "1 second"; an interval of no whole unit as
// time.Duration writes it.
func every(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d >= u.d && d%u.d == 0 {
			if n := d / u.d; n != 1 {
				return fmt.Sprintf("%d %ss", n, u.name)
			}
			return "1 " + u.name
		}
	}
	return d.String()
}

// wake is the state machine's single step: it runs whatever is due,
// recomputes alarms, saves, and arms the timer for the next deadline.
// Timers call it; so do the operations after they change state.
func (a *Agent) wake() {
	a.op.Lock()
	defer a.op.Unlock()
	a.step()
}

// step does the work of wake; the caller holds op.
func (a *Agent) step() {
	for range 4 { // an exchange may make another due (register -> authorize)
		job := a.dueJob()
		if job == nil {
			break
		}
		job()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if now, ok := a.settleLocked(); ok {
		a.armLocked(now)
	}
}

// settleLocked saves the state and sets the alarms it calls for; ok is
// false once the agent is closed.
func (a *Agent) settleLocked() (now time.Time, ok bool) {
	if a.closed {
		return time.Time{}, false
	}
	now = a.nowLocked()
	a.touchAnchorLocked(now)
	a.expireLocked(now)
	if err := a.saveLocked(); err != nil {
		a.logf("licensing: %v", err)
	}
	if err := a.alarms.set(licensingAlarms(), a.conditionsLocked(now), now); err != nil {
		a.logf("licensing: %v", err)
	}
	return now, true
}

// expireLocked ends a registration whose certificate ran out.
func (a *Agent) expireLocked(now time.Time) {
	r := a.st.Registration
	if r == nil || now.Add(r.Skew).Before(r.CertNotAfter) {
		return
	}
	a.logf("licensing: registration expired at %s (manager time): the identity certificate was not renewed", r.CertNotAfter.UTC().Format(time.RFC3339))
	a.st.Registration = nil
	a.st.RegistrationExpired = true
	a.authRetry, a.renewRetry = time.Time{}, time.Time{}
}

// dueJob picks the next exchange that is due, or nil.
func (a *Agent) dueJob() func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || !a.st.Enabled || a.dormant {
		return nil
	}
	now := a.nowLocked()
	a.expireLocked(now)
	if p := a.st.Pending; p != nil && !now.Before(a.pendingRetry) {
		tok, rereg := p.Token, p.Reregister
		return func() { _ = a.register(tok, rereg, true) }
	}
	r := a.st.Registration
	if r == nil {
		return nil
	}
	if !now.Before(a.renewDueLocked(now)) {
		return func() { _ = a.renewRegistration() }
	}
	if !now.Before(a.authDueLocked(now)) {
		return func() { _ = a.authorize() }
	}
	return nil
}

// renewDueLocked is when the registration is next renewed (or retried).
func (a *Agent) renewDueLocked(now time.Time) time.Time {
	r := a.st.Registration
	if r.RenewFailure != nil {
		return a.renewRetry
	}
	// A new hostname (or the privacy flag turned on) is pushed to the
	// manager by renewing the registration.
	if host, _ := a.sharedLocked(); host != r.SentHostname {
		return now
	}
	return regRenewAfter(r.RenewedAt)
}

// authDueLocked is when the next authorization request goes out: a
// retry, the 30-day renewal, the 6-hour usage report when usage changed,
// or shortly after a license type first comes into use.
func (a *Agent) authDueLocked(now time.Time) time.Time {
	r := a.st.Registration
	if r.AuthFailure != nil {
		return a.authRetry
	}
	if r.Auth == nil {
		return now
	}
	due := r.Auth.AtLocal.Add(AuthRenewEvery)
	if !a.usageTick.IsZero() && !usageEqual(a.reportedUsageLocked(), r.Auth.Reported) && a.usageTick.Before(due) {
		due = a.usageTick
	}
	if !a.newTypeAt.IsZero() && a.newTypeAt.Before(due) {
		due = a.newTypeAt
	}
	return due
}

// armLocked sets the timer for the next deadline of any kind.
func (a *Agent) armLocked(now time.Time) {
	if a.timer != nil {
		a.timer.Stop()
	}
	if !a.st.Enabled || a.dormant {
		return
	}
	next := now.Add(anchorRefreshEvery)
	consider := func(t time.Time) {
		if !t.IsZero() && t.After(now) && t.Before(next) {
			next = t
		}
	}
	if a.evalActiveLocked(now) {
		consider(a.evalExpiresLocked())
	}
	if a.st.Pending != nil {
		consider(a.pendingRetry)
	}
	for !a.usageTick.IsZero() && !a.usageTick.After(now) {
		a.usageTick = a.usageTick.Add(UsageReportEvery)
	}
	if r := a.st.Registration; r != nil {
		consider(a.renewDueLocked(now))
		consider(a.authDueLocked(now))
		base := authBase(r)
		consider(local(r, base.Add(AuthValidFor-expiringSoon)))
		consider(local(r, base.Add(AuthValidFor)))
		consider(local(r, r.CertNotAfter.Add(-expiringSoon)))
		consider(local(r, r.CertNotAfter))
		consider(a.usageTick)
	}
	d := next.Sub(a.clk.Now())
	if d < 0 {
		d = 0
	}
	a.timer = a.clk.AfterFunc(d, a.wake)
}

// RetryNow is what the network service calls when the network or DNS
// configuration changes (at boot too, when it first writes resolv.conf):
// every exchange waiting for its 15-minute retry after a failure (a
// pending registration, a failed registration renewal or authorization)
// runs at once, and a registered device whose authorization is not failing
// checks in with an authorization request. So a device kept registered
// through a factory reset but offline for lack of DNS shows 30042 and 30044
// at boot, and they clear as soon as DNS lets it reach the manager. An
// unregistered device with nothing pending sends nothing.
func (a *Agent) RetryNow() {
	a.op.Lock()
	defer a.op.Unlock()
	a.mu.Lock()
	now := a.nowLocked()
	checkIn := false
	if a.st.Pending != nil {
		a.pendingRetry = now
	}
	if r := a.st.Registration; r != nil {
		if r.RenewFailure != nil {
			a.renewRetry = now
		}
		if r.AuthFailure != nil {
			a.authRetry = now
		} else {
			checkIn = true
		}
	}
	a.mu.Unlock()
	if checkIn {
		_ = a.authorize() // its outcome is in the state and the alarms
	}
	a.step()
}
