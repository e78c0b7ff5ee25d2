package agent

import "time"

// unauthorizedLocked reports whether new endpoint registrations are
// refused: enabled, not registered, evaluation over.
func (a *Agent) unauthorizedLocked(now time.Time) bool {
	return a.st.Enabled && a.st.Registration == nil && !a.reservedLocked() && !a.evalActiveLocked(now)
}
