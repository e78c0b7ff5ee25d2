package agent

import (
	"errors"
	"time"

	"vxway/clock"
	"vxway/platform"
)

// The alarms the agent owns (docs/licensing.md#alarms), numbered as the platform's alarm
// store knows them.
const (
	AlarmEvaluation         = platform.AlarmSmartEvaluation
	AlarmOutOfCompliance    = platform.AlarmSmartOutOfCompliance
	AlarmReservationExpired = platform.AlarmSmartReservationExpired
	AlarmEvaluationExpired  = platform.AlarmSmartEvaluationExpired
	AlarmAuthExpired        = platform.AlarmSmartAuthorizationExpired
	AlarmAuthExpiredInUse   = platform.AlarmSmartAuthorizationExpired2
	AlarmRegExpired         = platform.AlarmSmartRegistrationExpired
	AlarmCommError          = platform.AlarmSmartCommunicationError
	AlarmAuthExpiringSoon   = platform.AlarmSmartAuthorizationExpiring
	AlarmAuthRenewFailed    = platform.AlarmSmartAuthorizationRenewFail
	AlarmRegRenewFailed     = platform.AlarmSmartRegistrationRenewFail
	AlarmRegExpiringSoon    = platform.AlarmSmartRegistrationExpiring
	AlarmExportCapReached   = platform.AlarmExportControlReached
	AlarmExportApproaching  = platform.AlarmExportControlApproaching
	AlarmClockOffset        = platform.AlarmSmartClockOffset
)

// alarms raises and clears the agent's alarms in the platform's store
// (/data/alarms/<id>.json), touching files only when a condition or its
// detail changes.
type alarms struct {
	store  *platform.Alarms
	raised map[int]string
}

// loadAlarms learns which of the agent's alarms are raised on disk.
func loadAlarms(root string, c clock.Clock) *alarms {
	a := &alarms{store: platform.NewAlarms(root, c), raised: map[int]string{}}
	for _, id := range append(licensingAlarms(), exportAlarms()...) {
		if al, ok, err := a.store.Get(id); err == nil && ok {
			a.raised[id] = al.Detail
		}
	}
	return a
}

// set makes the raised alarms among scope be exactly want (id -> detail).
func (a *alarms) set(scope []int, want map[int]string, _ time.Time) error {
	var errs []error
	for _, id := range scope {
		detail, on := want[id]
		old, was := a.raised[id]
		switch {
		case on && (!was || old != detail):
			if err := a.store.Raise(id, detail); err != nil {
				errs = append(errs, err)
				continue
			}
			a.raised[id] = detail
		case !on && was:
			if err := a.store.Clear(id); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(a.raised, id)
		}
	}
	return errors.Join(errs...)
}

// list reports the raised ids among scope.
func (a *alarms) list(scope []int) []int {
	var ids []int
	for _, id := range scope {
		if _, ok := a.raised[id]; ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// licensingAlarms is the scope of the state machine's alarms.
func licensingAlarms() []int {
	return []int{AlarmEvaluation, AlarmOutOfCompliance, AlarmEvaluationExpired, AlarmAuthExpired, AlarmAuthExpiredInUse,
		AlarmRegExpired, AlarmCommError, AlarmAuthExpiringSoon, AlarmAuthRenewFailed, AlarmRegRenewFailed, AlarmRegExpiringSoon,
		AlarmReservationExpired, AlarmClockOffset}
}

// exportAlarms is the scope of the export-control alarms.
func exportAlarms() []int { return []int{AlarmExportApproaching, AlarmExportCapReached} }
