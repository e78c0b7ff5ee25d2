package agent

import "time"

// The evaluation clock: the device's time as licensing counts it (never
// moved back, anchored on persist) and the manager's time, which expiry
// is judged in.

// nowLocked is the device's time, never earlier than the latest time the
// anchor has seen: a clock moved back does not move licensing back. It
// is the wall clock alone: without Round(0), comparisons with times made
// in this process (the anchor of a first enable) would use Go's
// monotonic reading and miss a clock set forward (date, NTP) until the
// agent restarts. It also brings the registration's offset to the
// manager's time up to date with the trusted time (trust.go), so that
// now plus that offset is the manager's time for every deadline computed
// from it.
func (a *Agent) nowLocked() time.Time {
	now := a.clk.Now().Round(0)
	if a.hasAnchor && now.Before(a.anchor.Latest) {
		now = a.anchor.Latest
	}
	a.syncSkewLocked(now)
	return now
}

// touchAnchorLocked records now as the latest time seen, writing persist
// at most once every anchorWriteStep of device time.
func (a *Agent) touchAnchorLocked(now time.Time) {
	if !a.hasAnchor || !now.After(a.anchor.Latest) {
		return
	}
	a.anchor.Latest = now
	if now.Sub(a.anchorSaved) >= anchorWriteStep {
		a.writeAnchorLocked()
	}
}

// saveLatestLocked writes the latest time seen, up to the clock's, to
// persist, so that a clean stop loses none of it to anchorWriteStep (a
// power cut loses at most that step).
func (a *Agent) saveLatestLocked() {
	if !a.hasAnchor {
		return
	}
	if now := a.clk.Now().Round(0); now.After(a.anchor.Latest) {
		a.anchor.Latest = now
	}
	if a.anchor.Latest.After(a.anchorSaved) {
		a.writeAnchorLocked()
	}
}

// writeAnchorLocked writes the anchor to persist.
func (a *Agent) writeAnchorLocked() {
	if err := saveAnchor(a.root, a.anchor); err != nil {
		a.logf("licensing: %v", err)
		return
	}
	a.anchorSaved = a.anchor.Latest
}

// evalExpiresLocked is when evaluation ends (zero when never enabled).
func (a *Agent) evalExpiresLocked() time.Time {
	if !a.hasAnchor {
		return time.Time{}
	}
	return a.anchor.Start.Add(EvaluationPeriod)
}

// evalActiveLocked reports whether the evaluation period runs at now.
func (a *Agent) evalActiveLocked(now time.Time) bool {
	return a.hasAnchor && now.Before(a.evalExpiresLocked())
}

// authBase is the manager time the current authorization counts from.
func authBase(r *Registration) time.Time {
	if r.Auth != nil {
		return r.Auth.At
	}
	return r.RegisteredAt.Add(r.Skew)
}

// local converts a manager time to local time with the measured skew.
func local(r *Registration, mgr time.Time) time.Time { return mgr.Add(-r.Skew) }

// authExpired reports whether the authorization of r has run out at now.
func authExpired(r *Registration, now time.Time) bool {
	return !now.Add(r.Skew).Before(authBase(r).Add(AuthValidFor))
}

// skew is the manager's clock minus the device's, from a manager time
// received at now; zero when the answer carried no time.
func skew(mgr, now time.Time) time.Duration {
	if mgr.IsZero() {
		return 0
	}
	return mgr.Sub(now)
}
