package agent

import (
	"fmt"
	"time"

	"vxway/agentclient"
)

// Export control (docs/licensing.md#export-control): encrypted signalling sessions (calls and
// registrations) are capped; new ones are refused at the cap until usage
// falls below the low watermark, 1 % under it.
const (
	ExportLimit       = 2500
	ExportLimitWebRTC = 2244
	maxSessions       = 1_000_000
)

// exportControl tracks encrypted sessions against the cap, with the
// reached state latched until the low watermark. The sessions are the
// sum of the simulated count (Sessions Set) and the real one (the SIP
// service's live encrypted registrations and calls).
type exportControl struct {
	simulated int
	real      int
	webrtc    bool
	reached   bool
}

func newExportControl() exportControl { return exportControl{} }

func (e *exportControl) limit() int {
	if e.webrtc {
		return ExportLimitWebRTC
	}
	return ExportLimit
}

func (e *exportControl) encrypted() int { return e.simulated + e.real }

// update records the counts and recomputes the latch.
func (e *exportControl) update(simulated, real int, webrtc bool) {
	e.simulated, e.real, e.webrtc = simulated, real, webrtc
	l, n := e.limit(), e.encrypted()
	switch {
	case n >= l:
		e.reached = true
	case n < l-l/100:
		e.reached = false
	}
}

func (e *exportControl) status() agentclient.ExportStatus {
	l, n := e.limit(), e.encrypted()
	return agentclient.ExportStatus{
		Limit:        l,
		Encrypted:    n,
		Real:         e.real,
		Simulated:    e.simulated,
		WebRTC:       e.webrtc,
		Accepting:    !e.reached && n < l,
		Approaching:  n*10 >= l*9 && !e.reached,
		Reached:      e.reached,
		ReadmitBelow: l - l/100,
	}
}

// SetSessions records the simulated encrypted sessions (a load
// simulation added to the real ones) and whether WebRTC is enabled,
// raises or clears the export-control alarms, and reports whether a new
// encrypted session may be admitted.
func (a *Agent) SetSessions(encrypted int, webrtc bool) (agentclient.ExportStatus, error) {
	if encrypted < 0 || encrypted > maxSessions {
		return agentclient.ExportStatus{}, fmt.Errorf("%w: encrypted session count %d is not from 0 to %d", agentclient.ErrInvalidConfig, encrypted, maxSessions)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.export.update(encrypted, a.export.real, webrtc)
	return a.export.status(), a.settleExportLocked()
}

// settleExportLocked raises or clears the export-control alarms for the
// sessions now.
func (a *Agent) settleExportLocked() error {
	st := a.export.status()
	want := map[int]string{}
	if st.Reached {
		want[AlarmExportCapReached] = fmt.Sprintf("the limit of %d encrypted sessions is reached; new ones are admitted again below %d", st.Limit, st.ReadmitBelow)
	} else if st.Approaching {
		want[AlarmExportApproaching] = fmt.Sprintf("90%% of the limit of %d encrypted sessions is in use", st.Limit)
	}
	return a.alarms.set(exportAlarms(), want, time.Time{})
}
