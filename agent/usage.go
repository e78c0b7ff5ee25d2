package agent

import (
	"fmt"
	"strings"

	"vxway/agentclient"
)

// The usage call control reports, which authorization requests carry to
// the manager and the Unauthorized state and reservations limit.

// SetUsage records the simulated licenses of one type in use (a load
// simulation for demos and tests, added to the real usage the SIP service
// reports).
// When the device is Unauthorized, raising a registration type's count
// (a new endpoint registration) is refused with ErrUnauthorized.
func (a *Agent) SetUsage(typ string, count int) error {
	typ = strings.ToLower(strings.TrimSpace(typ))
	known := false
	for _, t := range licenseTypes() {
		known = known || t == typ
	}
	if !known {
		return fmt.Errorf("%w: license type %q is unknown; use rms, room or desktop", agentclient.ErrInvalidConfig, typ)
	}
	if count < 0 || count > maxUsage {
		return fmt.Errorf("%w: count %d is not from 0 to %d", agentclient.ErrInvalidConfig, count, maxUsage)
	}
	short, err := a.setUsage(typ, count, nil)
	if short < 1 {
		return err
	}
	// The borrowed licenses count as pending until the second pass, so
	// no give-back returns them first.
	a.mu.Lock()
	unpend := a.pendLocked(typ, short)
	a.mu.Unlock()
	if !a.borrow(typ, short) {
		a.unpend([]func(){unpend})
		return err
	}
	if h := a.cl.afterBorrow; h != nil {
		h()
	}
	_, err = a.setUsage(typ, count, unpend)
	return err
}

// setUsage is SetUsage without borrowing; short is how many licenses a
// refusal under a reservation lacks. unpend, when set, is called under
// the lock the count is decided under.
func (a *Agent) setUsage(typ string, count int, unpend func()) (short int, err error) {
	a.mu.Lock()
	if unpend != nil {
		unpend()
	}
	now := a.nowLocked()
	old := a.st.Usage[typ]
	if count > old && typ != agentclient.TypeRMS && a.unauthorizedLocked(now) {
		a.mu.Unlock()
		return 0, fmt.Errorf("%w: the evaluation period is over and the device is not registered, so new %s registrations are refused; register the device first", agentclient.ErrUnauthorized, typ)
	}
	if a.reservedLocked() && count > old {
		want := count + a.real.counts[typ]
		if err := a.fitsLocked(typ, want); err != nil {
			h := a.holdingLocked(typ)
			limit, _ := a.reservedLimitLocked(typ)
			short := want - (limit + h.Borrowed - h.Lent)
			a.mu.Unlock()
			return short, err
		}
	}
	if a.st.Usage == nil {
		a.st.Usage = map[string]int{}
	}
	if count == 0 {
		delete(a.st.Usage, typ)
	} else {
		a.st.Usage[typ] = count
	}
	if r := a.st.Registration; r != nil && old == 0 && count > 0 && (r.Auth == nil || r.Auth.Results[typ] == "") {
		a.newTypeAt = now.Add(newTypeDelay)
	}
	err = a.saveLocked()
	if err == nil {
		a.settleAlarmsLocked()
		a.notePeakLocked()
		a.settleClusterLocked(map[string]int{typ: old}, map[string]int{typ: count})
	}
	a.mu.Unlock()
	return 0, err
}

// notePeakLocked keeps the most licenses of each type in use at once,
// real and simulated together.
func (a *Agent) notePeakLocked() {
	if a.peak == nil {
		a.peak = map[string]int{}
	}
	for t, n := range a.usageLocked() {
		a.peak[t] = max(a.peak[t], n)
	}
}

// maxUsage is the largest count of one license type accepted.
const maxUsage = 1_000_000

// totalUsage is the licenses in use over all types.
func totalUsage(u map[string]int) int {
	n := 0
	for _, c := range u {
		n += c
	}
	return n
}

// usageEqual compares usage ignoring zero counts.
func usageEqual(a, b map[string]int) bool {
	for k, v := range a {
		if v != b[k] {
			return false
		}
	}
	for k, v := range b {
		if v != a[k] {
			return false
		}
	}
	return true
}

// nonZero is a copy of u without the types not in use.
func nonZero(u map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range u {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}
