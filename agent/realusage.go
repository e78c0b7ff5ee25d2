package agent

import (
	"errors"
	"fmt"

	"vxway/agentclient"
)

// Real usage: what the device's own call control (the SIP service) has
// live, reported over the local API. It is kept in memory only, apart
// from the simulated usage of Usage Set and Sessions Set (persisted in
// the state); the usage shown, reported to the manager and judged is the
// sum of both. The SIP service reports again whenever it starts and
// every few seconds, so an agent that restarts learns it back.

// realUsage is the SIP service's last report.
type realUsage struct {
	counts map[string]int
}

// usageLocked is the usage in force: the simulated counts plus the real
// ones, without types not in use.
func (a *Agent) usageLocked() map[string]int {
	out := nonZero(a.st.Usage)
	for t, n := range a.real.counts {
		if n > 0 {
			out[t] += n
		}
	}
	return out
}

// ReportUsage records the real usage the SIP service has live and, when
// c.Admit is set, first decides whether one more registration or call
// of that type (encrypted or not) may be admitted; an admitted one is
// counted at once. A refusal wraps ErrUnauthorized, ErrNotReserved or
// ErrExportLimit with the reason, and changes nothing but the counts.
//
// In a cluster, an admission that does not fit the device's own and
// borrowed licenses first borrows one from a peer (cluster.go); it is
// refused only when no peer has one to spare.
func (a *Agent) ReportUsage(c agentclient.RealUsage) (agentclient.Admitted, error) {
	var ads []agentclient.Admission
	if c.Admit != nil {
		ads = []agentclient.Admission{*c.Admit}
	}
	export, refusals, err := a.realUsageBorrowing(c, ads)
	if err != nil {
		return agentclient.Admitted{}, err
	}
	var refused error
	if len(refusals) == 1 {
		refused = refusals[0]
	}
	return agentclient.Admitted{Export: export, Admitted: c.Admit != nil && refused == nil}, refused
}

// realUsageBorrowing is realUsage that, when admissions were refused
// for want of reserved licenses, borrows that many from the cluster's
// peers and decides the batch again (realUsage starts over from c, so
// the second pass replaces the first). What it borrows counts as pending
// until the second pass is over, so no give-back returns it first.
func (a *Agent) realUsageBorrowing(c agentclient.RealUsage, ads []agentclient.Admission) (agentclient.ExportStatus, []error, error) {
	export, refusals, err := a.realUsage(c, ads, nil)
	if err != nil {
		return export, refusals, err
	}
	short := map[string]int{}
	for i, r := range refusals {
		if errors.Is(r, agentclient.ErrNotReserved) {
			short[ads[i].Type]++
		}
	}
	if len(short) == 0 {
		return export, refusals, nil
	}
	var unpend []func()
	a.mu.Lock()
	for t, n := range short {
		unpend = append(unpend, a.pendLocked(t, n))
	}
	a.mu.Unlock()
	borrowed := false
	for t, n := range short {
		if a.borrow(t, n) {
			borrowed = true
		}
	}
	if !borrowed {
		a.unpend(unpend)
		return export, refusals, nil
	}
	if h := a.cl.afterBorrow; h != nil {
		h()
	}
	return a.realUsage(c, ads, unpend)
}

// realUsage records the real usage c and decides the admissions ads in
// order, each admitted one counted before the next is decided; it
// returns the export-control status after them and one refusal (nil:
// admitted) per admission. An error is invalid counts, and changes
// nothing. Each of unpend is called under the lock the admissions are
// decided under (the borrows pending for them are over).
func (a *Agent) realUsage(c agentclient.RealUsage, ads []agentclient.Admission, unpend []func()) (agentclient.ExportStatus, []error, error) {
	counts := map[string]int{agentclient.TypeRoom: c.Room, agentclient.TypeDesktop: c.Desktop, agentclient.TypeRMS: c.RMS}
	for t, n := range counts {
		if n < 0 || n > maxUsage {
			a.unpend(unpend)
			return agentclient.ExportStatus{}, nil, fmt.Errorf("%w: %s count %d is not from 0 to %d", agentclient.ErrInvalidConfig, t, n, maxUsage)
		}
	}
	if c.Encrypted < 0 || c.Encrypted > maxSessions {
		a.unpend(unpend)
		return agentclient.ExportStatus{}, nil, fmt.Errorf("%w: encrypted session count %d is not from 0 to %d", agentclient.ErrInvalidConfig, c.Encrypted, maxSessions)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Under the lock this decision holds: nothing gives back between.
	for _, f := range unpend {
		f()
	}
	before := a.usageLocked()
	a.real.counts = counts
	encrypted := c.Encrypted
	a.export.update(a.export.simulated, encrypted, a.export.webrtc)
	refusals := make([]error, len(ads))
	for i, ad := range ads {
		if refusals[i] = a.admitLocked(ad); refusals[i] == nil {
			if ad.Type != "" {
				a.real.counts[ad.Type]++
			}
			if ad.Encrypted {
				encrypted++
				a.export.update(a.export.simulated, encrypted, a.export.webrtc)
			}
		}
	}
	after := a.usageLocked()
	if r := a.st.Registration; r != nil {
		for t, n := range after {
			if before[t] == 0 && n > 0 && (r.Auth == nil || r.Auth.Results[t] == "") {
				a.newTypeAt = a.nowLocked().Add(newTypeDelay)
			}
		}
	}
	if err := a.settleExportLocked(); err != nil {
		a.logf("licensing: %v", err)
	}
	if !usageEqual(before, after) {
		a.settleAlarmsLocked()
		a.notePeakLocked()
	}
	a.settleClusterLocked(before, after)
	return a.export.status(), refusals, nil
}

// admitLocked decides whether one more of ad may be admitted now: the
// licensing rules of the vendor document, in one place.
func (a *Agent) admitLocked(ad agentclient.Admission) error {
	typ := ad.Type
	switch typ {
	case agentclient.TypeRoom, agentclient.TypeDesktop, agentclient.TypeRMS:
	case "":
		// An encrypted session that uses no license (a call between two
		// local endpoints over TLS).
		if !ad.Encrypted {
			return fmt.Errorf("%w: an admission names a license type or is encrypted", agentclient.ErrInvalidConfig)
		}
	default:
		return fmt.Errorf("%w: license type %q is unknown; use rms, room or desktop", agentclient.ErrInvalidConfig, typ)
	}
	now := a.nowLocked()
	if typ != agentclient.TypeRMS && a.unauthorizedLocked(now) {
		return fmt.Errorf("%w: the evaluation period is over and the device is not registered, so new %s registrations are refused; register the device first", agentclient.ErrUnauthorized, typ)
	}
	if a.reservedLocked() {
		if err := a.fitsLocked(typ, a.usageLocked()[typ]+1); err != nil {
			return err
		}
	}
	if ad.Encrypted {
		if st := a.export.status(); !st.Accepting {
			why := fmt.Sprintf("%d encrypted sessions are in use and the limit is %d", st.Encrypted, st.Limit)
			if st.Encrypted < st.Limit {
				why = fmt.Sprintf("the limit of %d encrypted sessions was reached; new ones are admitted again below %d (now %d)", st.Limit, st.ReadmitBelow, st.Encrypted)
			}
			return fmt.Errorf("%w: %s", agentclient.ErrExportLimit, why)
		}
	}
	return nil
}

// fitsLocked reports, under a reservation, whether want licenses of type
// t in use fit the reserved ones plus those borrowed from peers minus
// those lent to them; the refusal wraps ErrNotReserved.
func (a *Agent) fitsLocked(t string, want int) error {
	limit, why := a.reservedLimitLocked(t)
	h := a.holdingLocked(t)
	if want <= limit+h.Borrowed-h.Lent {
		return nil
	}
	if h.Borrowed > 0 || h.Lent > 0 {
		why = fmt.Sprintf("%s; %d are borrowed from cluster peers and %d lent to them", why, h.Borrowed, h.Lent)
	} else if a.cl.node != nil {
		why += "; no cluster peer has one to spare"
	}
	return fmt.Errorf("%w: %d %s licenses in use is refused: %s", agentclient.ErrNotReserved, want, t, why)
}

// settleClusterLocked asks the cluster worker to give back borrowed
// licenses when use dropped, and to borrow when a connected device's use
// grew beyond what it holds.
func (a *Agent) settleClusterLocked(before, after map[string]int) {
	if a.cl.node == nil {
		return
	}
	for _, t := range licenseTypes() {
		h := a.holdingLocked(t)
		switch {
		case after[t] < before[t] && h.Borrowed > 0:
			a.kickClusterLocked()
			return
		case after[t] > before[t] && !a.reservedLocked() && a.needLocked(t) > h.Borrowed:
			a.kickClusterLocked()
			return
		}
	}
}
