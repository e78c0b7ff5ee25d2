package agent

import "time"

// standing is where licensing stands at one moment. Status and the alarm
// conditions both start from it, so what the user reads and which alarms
// are raised cannot disagree.
type standing int

const (
	// standingOff: Smart Licensing is not enabled, or dormant on a VCS.
	standingOff standing = iota
	// standingReserved: not registered, a verified reservation in force.
	standingReserved
	// standingEvaluation: not registered, the evaluation period running.
	standingEvaluation
	// standingUnauthorized: not registered and the evaluation over, so
	// new endpoint registrations are refused.
	standingUnauthorized
	// standingRegistered: registered, the authorization still valid.
	standingRegistered
	// standingAuthExpired: registered, but no authorization for
	// AuthValidFor (manager time).
	standingAuthExpired
)

// standingLocked classifies the state at now.
func (a *Agent) standingLocked(now time.Time) standing {
	r := a.st.Registration
	switch {
	case !a.st.Enabled, a.dormant:
		return standingOff
	case r != nil && authExpired(r, now):
		return standingAuthExpired
	case r != nil:
		return standingRegistered
	case a.reservedLocked():
		return standingReserved
	case a.evalActiveLocked(now):
		return standingEvaluation
	}
	return standingUnauthorized
}

// unauthorizedLocked reports whether new endpoint registrations are
// refused: enabled, not registered, evaluation over.
func (a *Agent) unauthorizedLocked(now time.Time) bool {
	return a.standingLocked(now) == standingUnauthorized
}
