package agent

import (
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
func (a *Agent) ReportUsage(c agentclient.RealUsage) (agentclient.Admitted, error) {
	var ads []agentclient.Admission
	if c.Admit != nil {
		ads = []agentclient.Admission{*c.Admit}
	}
	export, refusals, err := a.realUsage(c, ads)
	if err != nil {
		return agentclient.Admitted{}, err
	}
	var refused error
	if len(refusals) == 1 {
		refused = refusals[0]
	}
	return agentclient.Admitted{Export: export, Admitted: c.Admit != nil && refused == nil}, refused
}

// realUsage records the real usage c and decides the admissions ads in
// order, each admitted one counted before the next is decided; it
// returns the export-control status after them and one refusal (nil:
// admitted) per admission. An error is invalid counts, and changes
// nothing.
func (a *Agent) realUsage(c agentclient.RealUsage, ads []agentclient.Admission) (agentclient.ExportStatus, []error, error) {
	counts := map[string]int{agentclient.TypeRoom: c.Room, agentclient.TypeDesktop: c.Desktop, agentclient.TypeRMS: c.RMS}
	for t, n := range counts {
		if n < 0 || n > maxUsage {
			return agentclient.ExportStatus{}, nil, fmt.Errorf("%w: %s count %d is not from 0 to %d", agentclient.ErrInvalidConfig, t, n, maxUsage)
		}
	}
	if c.Encrypted < 0 || c.Encrypted > maxSessions {
		return agentclient.ExportStatus{}, nil, fmt.Errorf("%w: encrypted session count %d is not from 0 to %d", agentclient.ErrInvalidConfig, c.Encrypted, maxSessions)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
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
		want := a.usageLocked()[typ] + 1
		if limit, why := a.reservedLimitLocked(typ); want > limit {
			return fmt.Errorf("%w: %d %s licenses in use is refused: %s", agentclient.ErrNotReserved, want, typ, why)
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
