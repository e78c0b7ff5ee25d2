package agent

import (
	"strings"
	"time"
)

// conditionsLocked is the set of alarms the state calls for, each with
// its detail.
func (a *Agent) conditionsLocked(now time.Time) map[int]string {
	on := map[int]string{}
	if !a.st.Enabled {
		return on
	}
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }
	r := a.st.Registration
	if r == nil && a.reservedLocked() {
		a.reservationConditionsLocked(on)
		return on
	}
	if r == nil {
		if a.evalActiveLocked(now) {
			on[AlarmEvaluation] = "evaluation ends " + day(a.evalExpiresLocked())
		} else {
			on[AlarmEvaluationExpired] = "evaluation ended " + day(a.evalExpiresLocked()) + "; new endpoint registrations are refused until the device is registered"
		}
		if a.st.RegistrationExpired {
			on[AlarmRegExpired] = "register the device again with a new token"
		}
		if p := a.st.Pending; p != nil {
			on[AlarmCommError] = "registration: " + p.Reason
		}
		return on
	}
	mgrNow := now.Add(r.Skew)
	expires := authBase(r).Add(AuthValidFor)
	if authExpired(r, now) {
		on[AlarmAuthExpired] = "no contact with the manager since " + day(authBase(r))
		if totalUsage(a.st.Usage) > 0 {
			on[AlarmAuthExpiredInUse] = "licenses are in use without authorization"
		}
	} else {
		if !mgrNow.Before(expires.Add(-expiringSoon)) {
			on[AlarmAuthExpiringSoon] = "authorization expires " + day(expires)
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
		on[AlarmRegExpiringSoon] = "registration expires " + day(r.CertNotAfter)
	}
	return on
}
