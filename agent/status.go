package agent

import (
	"time"

	"vxway/agentclient"
)

// Status reports the licensing status now (docs/licensing.md#status).
func (a *Agent) Status() agentclient.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.nowLocked()
	st := a.standingLocked(now)
	s := agentclient.Status{
		Enabled:       a.st.Enabled && !a.dormant,
		Dormant:       a.dormant,
		Registration:  agentclient.RegUnregistered,
		Authorization: agentclient.AuthNotApplicable,
		Transport:     a.cfg.Mode,
		Unauthorized:  st == standingUnauthorized,
		Warning:       a.st.Warning,
		Export:        a.export.status(),
		Alarms:        a.alarms.list(append(licensingAlarms(), exportAlarms()...)),
		Reservation:   a.reservationStatusLocked(),
	}
	if st != standingOff {
		off, learned := a.offsetLocked(now)
		s.Skew = off
		s.TimeSource = agentclient.TimeDevice
		if learned {
			s.TimeSource = agentclient.TimeManager
		}
	}
	if a.hasAnchor && a.st.Enabled && st != standingReserved {
		s.EvaluationStart = a.anchor.Start
		s.EvaluationExpires = a.evalExpiresLocked()
		if left := s.EvaluationExpires.Sub(now); left > 0 {
			s.EvaluationDaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
		}
	}
	switch {
	case a.st.Registration != nil:
		s.Registration = agentclient.RegRegistered
	case a.st.Pending != nil:
		s.Registration = agentclient.RegPending
		s.FailureReason = registrationAttempt(a.st.Pending.Reason)
	case a.st.Failed != "":
		s.Registration = agentclient.RegFailed
		s.FailureReason = a.st.Failed
	case a.st.RegistrationExpired:
		s.Registration = agentclient.RegExpired
	}
	inUse := a.usageLocked()
	var typeStatus func(string) string
	switch st {
	case standingOff:
		typeStatus = func(string) string { return agentclient.TypeNotAuthorized }
		if r := a.st.Registration; r != nil && a.dormant {
			// The kept registration, unused on a VCS.
			s.SmartAccount, s.VirtualAccount, s.InstanceID = r.SmartAccount, r.VirtualAccount, r.InstanceID
		}
	case standingReserved:
		typeStatus = a.reservedStatusLocked(&s, inUse)
	case standingEvaluation:
		s.Authorization = agentclient.AuthEvaluation
		typeStatus = func(string) string { return agentclient.TypeEvaluation }
	case standingUnauthorized:
		s.Authorization = agentclient.AuthEvalExpired
		typeStatus = func(string) string { return agentclient.TypeEvalExpired }
	case standingRegistered, standingAuthExpired:
		typeStatus = a.registeredStatusLocked(&s, now, st, inUse)
	}
	s.Licenses = a.licenseLinesLocked(inUse)
	for _, t := range licenseTypes() {
		peak := max(a.peak[t], inUse[t])
		if n := inUse[t]; n > 0 {
			s.Usage = append(s.Usage, agentclient.UsageLine{Type: t, Name: typeName(t), Count: n, Peak: peak, Real: a.real.counts[t], Simulated: a.st.Usage[t], Status: typeStatus(t)})
		}
		if peak > 0 {
			if s.Peak == nil {
				s.Peak = map[string]int{}
			}
			s.Peak[t] = peak
		}
	}
	return s
}

// reservedStatusLocked fills in the status of a device under a
// reservation and returns the status of each license type.
func (a *Agent) reservedStatusLocked(s *agentclient.Status, inUse map[string]int) func(string) string {
	s.Registration, s.Authorization = agentclient.RegReservedSLR, agentclient.AuthReserved
	if a.resv.limits.Unlimited {
		s.Registration = agentclient.RegReservedPLR
	}
	s.InstanceID = s.Reservation.InstanceID
	s.ExportControlled = s.Reservation.ExportControl
	return func(t string) string {
		limit, _ := a.reservedLimitLocked(t)
		for _, e := range a.resv.limits.Expired {
			if string(e) == t {
				return agentclient.TypeResExpired
			}
		}
		for _, e := range a.resv.limits.NotStarted {
			if string(e) == t {
				return agentclient.TypeNotStarted
			}
		}
		h := a.holdingLocked(t)
		switch {
		case limit == 0 && h.Borrowed == 0:
			return agentclient.TypeNotReserved
		case inUse[t]+h.Lent > limit+h.Borrowed:
			return agentclient.TypeOverReserved
		}
		return agentclient.TypeReserved
	}
}

// registeredStatusLocked fills in the status of a registered device and
// returns the status of each license type.
func (a *Agent) registeredStatusLocked(s *agentclient.Status, now time.Time, st standing, inUse map[string]int) func(string) string {
	r := a.st.Registration
	s.SmartAccount, s.VirtualAccount, s.InstanceID = r.SmartAccount, r.VirtualAccount, r.InstanceID
	s.ExportControlled = "Not Allowed"
	if r.ExportControlled {
		s.ExportControlled = "Allowed"
	}
	s.RegisteredAt, s.RegistrationLast = r.RegisteredAt, r.RenewedAt
	s.RegistrationNext = a.renewDueLocked(now)
	s.RegistrationExpires = local(r, r.CertNotAfter)
	s.AuthorizationExpires = local(r, authBase(r).Add(AuthValidFor))
	s.AuthorizationNext = a.authDueLocked(now)
	if r.Auth != nil {
		s.AuthorizationLast = r.Auth.AtLocal
	}
	if f := r.AuthFailure; f != nil {
		s.FailureReason = f.Reason
	}
	if f := r.RenewFailure; f != nil && s.FailureReason == "" {
		s.FailureReason = registrationAttempt(f.Reason)
	}
	// ooc: the manager found a type in use over what the account has;
	// waiting: a type in use has no answer yet (a new type until the
	// next report), so the device cannot say it is authorized.
	ooc, waiting := false, r.Auth == nil
	if r.Auth != nil {
		for t := range inUse {
			ooc = ooc || r.Auth.Results[t] == ResultOutOfCompliance
			waiting = waiting || r.Auth.Results[t] == ""
		}
	}
	switch {
	case st == standingAuthExpired:
		s.Authorization = agentclient.AuthExpired
	case len(inUse) == 0:
		s.Authorization = agentclient.AuthNoLicenses
	case ooc:
		s.Authorization = agentclient.AuthOutOfCompliance
	case waiting:
		s.Authorization = agentclient.AuthNotApplicable
	default:
		s.Authorization = agentclient.AuthAuthorized
	}
	return func(t string) string {
		if st == standingAuthExpired {
			return agentclient.TypeAuthExpired
		}
		if r.Auth == nil {
			return agentclient.TypeWaiting
		}
		switch r.Auth.Results[t] {
		case ResultAuthorized:
			return agentclient.TypeAuthorized
		case ResultOutOfCompliance:
			return agentclient.TypeOutOfCompliance
		case ResultInvalidTag:
			return agentclient.TypeInvalidTag
		case ResultNotAuthorized:
			return agentclient.TypeNotAuthorized
		case "":
			return agentclient.TypeWaiting
		}
		return agentclient.TypeInvalid
	}
}

// registrationAttempt is the vendor document's message for a registration
// (or its renewal) that could not reach the manager, with the reason.
func registrationAttempt(reason string) string {
	return "The last attempt to renew smart software licensing registration is in progress because of the following reason: " + reason
}
