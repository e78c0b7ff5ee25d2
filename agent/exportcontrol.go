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
// reached state latched until the low watermark.
type exportControl struct {
	encrypted int
	webrtc    bool
	reached   bool
	known     bool
}

func newExportControl() exportControl { return exportControl{} }

func (e *exportControl) limit() int {
	if e.webrtc {
		return ExportLimitWebRTC
	}
	return ExportLimit
}

// update records call control's count and recomputes the latch.
func (e *exportControl) update(encrypted int, webrtc bool) {
	e.encrypted, e.webrtc, e.known = encrypted, webrtc, true
	l := e.limit()
	switch {
	case encrypted >= l:
		e.reached = true
	case encrypted < l-l/100:
		e.reached = false
	}
}

func (e *exportControl) status() agentclient.ExportStatus {
	l := e.limit()
	return agentclient.ExportStatus{
		Limit:        l,
		Encrypted:    e.encrypted,
		WebRTC:       e.webrtc,
		Accepting:    !e.reached && e.encrypted < l,
		Approaching:  e.encrypted*10 >= l*9 && !e.reached,
		Reached:      e.reached,
		ReadmitBelow: l - l/100,
	}
}

// SetSessions records the encrypted sessions call control has open and
// whether WebRTC is enabled, raises or clears the export-control alarms,
// and reports whether a new encrypted session may be admitted.
func (a *Agent) SetSessions(encrypted int, webrtc bool) (agentclient.ExportStatus, error) {
	if encrypted < 0 || encrypted > maxSessions {
		return agentclient.ExportStatus{}, fmt.Errorf("%w: encrypted session count %d is not from 0 to %d", agentclient.ErrInvalidConfig, encrypted, maxSessions)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.export.update(encrypted, webrtc)
	st := a.export.status()
	want := map[int]string{}
	if st.Reached {
		want[AlarmExportCapReached] = fmt.Sprintf("the limit of %d encrypted sessions is reached; new ones are admitted again below %d", st.Limit, st.ReadmitBelow)
	} else if st.Approaching {
		want[AlarmExportApproaching] = fmt.Sprintf("90%% of the limit of %d encrypted sessions is in use", st.Limit)
	}
	err := a.alarms.set(exportAlarms(), want, time.Time{})
	return st, err
}
