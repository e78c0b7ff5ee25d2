package agent

import (
	"fmt"
	"strings"
	"time"
)

// The licensing alarm conditions: which of the agent's alarms the state
// calls for, each with its detail (docs/licensing.md#alarms). alarms.go
// raises and clears them in the platform's store.

// settleAlarmsLocked sets the licensing alarms for the state now and arms
// the timer for the next deadline.
func (a *Agent) settleAlarmsLocked() {
	now := a.nowLocked()
	if err := a.alarms.set(licensingAlarms(), a.conditionsLocked(now), now); err != nil {
		a.logf("licensing: %v", err)
	}
	a.armLocked(now)
}

// conditionsLocked is the set of alarms the state calls for at now, each
// with its detail.
func (a *Agent) conditionsLocked(now time.Time) map[int]string {
	on := map[int]string{}
	st := a.standingLocked(now)
	switch st {
	case standingOff:
	case standingReserved:
		a.reservationConditionsLocked(on)
	case standingEvaluation, standingUnauthorized:
		a.unregisteredConditionsLocked(on, st)
	case standingRegistered, standingAuthExpired:
		a.registeredConditionsLocked(on, now, st)
	}
	if st != standingOff {
		a.clockConditionLocked(on, now)
	}
	return on
}

// alarmTime is a time as alarm details show it.
func alarmTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// unregisteredConditionsLocked adds the alarms of a device that is not
// registered: evaluation running or over, a registration that expired,
// one pending.
func (a *Agent) unregisteredConditionsLocked(on map[int]string, st standing) {
	if st == standingEvaluation {
		on[AlarmEvaluation] = "evaluation ends " + alarmTime(a.evalExpiresLocked())
	} else {
		on[AlarmEvaluationExpired] = "evaluation ended " + alarmTime(a.evalExpiresLocked()) + "; new endpoint registrations are refused until the device is registered"
	}
	if a.st.RegistrationExpired {
		on[AlarmRegExpired] = "register the device again with a new token"
	}
	if p := a.st.Pending; p != nil {
		on[AlarmCommError] = "registration: " + p.Reason
	}
}

// registeredConditionsLocked adds the alarms of a registered device:
// authorization expired or expiring, out of compliance, failed renewals,
// registration expiring.
func (a *Agent) registeredConditionsLocked(on map[int]string, now time.Time, st standing) {
	r := a.st.Registration
	mgrNow := now.Add(r.Skew)
	expires := authBase(r).Add(AuthValidFor)
	if st == standingAuthExpired {
		on[AlarmAuthExpired] = "no contact with the manager since " + alarmTime(authBase(r))
		if totalUsage(a.usageLocked()) > 0 {
			on[AlarmAuthExpiredInUse] = "licenses are in use without authorization"
		}
	} else {
		if !mgrNow.Before(expires.Add(-expiringSoon)) {
			on[AlarmAuthExpiringSoon] = "authorization expires " + alarmTime(expires)
		}
		if r.Auth != nil {
			var types []string
			for _, t := range licenseTypes() {
				if r.Auth.Results[t] == ResultOutOfCompliance {
					types = append(types, typeName(t))
				}
			}
			if len(types) > 0 {
				on[AlarmOutOfCompliance] = "not enough licenses: " + strings.Join(types, ", ")
			}
		}
	}
	if f := r.AuthFailure; f != nil {
		on[AlarmAuthRenewFailed] = f.Reason
		on[AlarmCommError] = f.Reason
	}
	if f := r.RenewFailure; f != nil {
		on[AlarmRegRenewFailed] = f.Reason
		on[AlarmCommError] = f.Reason
	}
	if !mgrNow.Before(r.CertNotAfter.Add(-expiringSoon)) {
		on[AlarmRegExpiringSoon] = "registration expires " + alarmTime(r.CertNotAfter)
	}
}

// reservationConditionsLocked adds the reservation's alarm: reserved
// licenses that had expired when the reservation was judged.
func (a *Agent) reservationConditionsLocked(on map[int]string) {
	if len(a.resv.limits.Expired) == 0 {
		return
	}
	var parts []string
	for _, t := range a.resv.limits.Expired {
		end := ""
		for _, e := range a.resv.res.Entitlements {
			if lt, ok := e.LicenseType(); ok && lt == t {
				end = e.End.UTC().Format("2006-01-02")
			}
		}
		parts = append(parts, fmt.Sprintf("%s (last day %s)", t, end))
	}
	on[AlarmReservationExpired] = "reserved licenses expired: " + strings.Join(parts, ", ") + "; their functionality is stopped until a new authorization code is installed"
}
