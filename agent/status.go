package agent

import (
	"time"
)

// Registration statuses, as SPEC §2 words them.
const (
	RegRegistered   = "Registered"
	RegUnregistered = "Unregistered"
	RegExpired      = "Unregistered: Registration Expired"
	RegPending      = "Unregistered: Registration Pending"
	RegFailed       = "Unregistered: Registration Failed"
)

// Authorization statuses, as SPEC §2 words them.
const (
	AuthAuthorized      = "Authorized"
	AuthExpired         = "Authorization Expired"
	AuthOutOfCompliance = "Out-of-compliance"
	AuthNoLicenses      = "No Licenses in Use"
	AuthEvaluation      = "Evaluation Mode"
	AuthEvalExpired     = "Evaluation Expired"
	AuthNotApplicable   = "Not Applicable"
)

// Per license type statuses, as SPEC §2 words them.
const (
	TypeAuthExpired     = "Authorization Expired"
	TypeEvaluation      = "Evaluation Mode"
	TypeEvalExpired     = "Evaluation Expired"
	TypeAuthorized      = "Authorized"
	TypeInvalid         = "Invalid"
	TypeInvalidTag      = "Invalid-tag"
	TypeNotAuthorized   = "Not Authorized"
	TypeOutOfCompliance = "Out of compliance"
	TypeWaiting         = "Waiting"
)

// Status is everything `xstatus License Smart` shows. Times are zero when
// they do not apply. It never holds a token or a password.
type Status struct {
	Enabled        bool   `json:"enabled"`
	Registration   string `json:"registration"`
	Authorization  string `json:"authorization"`
	SmartAccount   string `json:"smart_account,omitempty"`
	VirtualAccount string `json:"virtual_account,omitempty"`
	// ExportControlled is "Allowed" or "Not Allowed" while registered.
	ExportControlled string `json:"export_controlled,omitempty"`
	InstanceID       string `json:"instance_id,omitempty"`
	Transport        Mode   `json:"transport"`
	Unauthorized     bool   `json:"unauthorized"`

	EvaluationStart    time.Time `json:"evaluation_start,omitzero"`
	EvaluationExpires  time.Time `json:"evaluation_expires,omitzero"`
	EvaluationDaysLeft int       `json:"evaluation_days_left"`

	RegisteredAt         time.Time `json:"registered_at,omitzero"`
	RegistrationLast     time.Time `json:"registration_last_renewal,omitzero"`
	RegistrationNext     time.Time `json:"registration_next_renewal,omitzero"`
	RegistrationExpires  time.Time `json:"registration_expires,omitzero"`
	AuthorizationLast    time.Time `json:"authorization_last,omitzero"`
	AuthorizationNext    time.Time `json:"authorization_next,omitzero"`
	AuthorizationExpires time.Time `json:"authorization_expires,omitzero"`
	// Skew is the manager's clock minus the device's, as last measured.
	Skew time.Duration `json:"skew"`

	FailureReason string `json:"failure_reason,omitempty"`
	Warning       string `json:"warning,omitempty"`

	Usage       []UsageLine       `json:"usage"`
	Export      ExportStatus      `json:"export"`
	Reservation ReservationStatus `json:"reservation"`
	Alarms      []int             `json:"alarms"`
}

// UsageLine is one license type in use.
type UsageLine struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Count  int    `json:"count"`
	Status string `json:"status"`
}

// Status reports the licensing status now.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.nowLocked()
	s := Status{
		Enabled:       a.st.Enabled,
		Registration:  RegUnregistered,
		Authorization: AuthNotApplicable,
		Transport:     a.cfg.Mode,
		Unauthorized:  a.unauthorizedLocked(now),
		Warning:       a.st.Warning,
		Export:        a.export.status(),
		Alarms:        a.alarms.list(append(licensingAlarms(), exportAlarms()...)),
		Reservation:   a.reservationStatusLocked(),
	}
	if a.hasAnchor && a.st.Enabled {
		s.EvaluationStart = a.anchor.Start
		s.EvaluationExpires = a.evalExpiresLocked()
		if left := s.EvaluationExpires.Sub(now); left > 0 {
			s.EvaluationDaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
		}
	}
	r := a.st.Registration
	switch {
	case r != nil:
		s.Registration = RegRegistered
	case a.st.Pending != nil:
		s.Registration = RegPending
		s.FailureReason = a.st.Pending.Reason
	case a.st.Failed != "":
		s.Registration = RegFailed
		s.FailureReason = a.st.Failed
	case a.st.RegistrationExpired:
		s.Registration = RegExpired
	}
	inUse := nonZero(a.st.Usage)
	var typeStatus func(string) string
	switch {
	case !a.st.Enabled:
		typeStatus = func(string) string { return TypeNotAuthorized }
	case r == nil && a.reservedLocked():
		s.Registration, s.Authorization = RegReservedSLR, AuthReserved
		if a.resv.limits.Unlimited {
			s.Registration = RegReservedPLR
		}
		s.InstanceID = s.Reservation.InstanceID
		s.ExportControlled = s.Reservation.ExportControl
		s.EvaluationStart, s.EvaluationExpires, s.EvaluationDaysLeft = time.Time{}, time.Time{}, 0
		typeStatus = func(t string) string {
			limit, _ := a.reservedLimitLocked(t)
			for _, e := range a.resv.limits.Expired {
				if string(e) == t {
					return TypeResExpired
				}
			}
			for _, e := range a.resv.limits.NotStarted {
				if string(e) == t {
					return TypeNotStarted
				}
			}
			switch {
			case limit == 0:
				return TypeNotReserved
			case inUse[t] > limit:
				return TypeOverReserved
			}
			return TypeReserved
		}
	case r == nil && a.evalActiveLocked(now):
		s.Authorization = AuthEvaluation
		typeStatus = func(string) string { return TypeEvaluation }
	case r == nil:
		s.Authorization = AuthEvalExpired
		typeStatus = func(string) string { return TypeEvalExpired }
	default:
		s.SmartAccount, s.VirtualAccount, s.InstanceID = r.SmartAccount, r.VirtualAccount, r.InstanceID
		s.ExportControlled = "Not Allowed"
		if r.ExportControlled {
			s.ExportControlled = "Allowed"
		}
		s.Skew = r.Skew
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
			s.FailureReason = f.Reason
		}
		expired := authExpired(r, now)
		// ooc: the manager found a type in use over what the account
		// has; waiting: a type in use has no answer yet (a new type
		// until the next report), so the device cannot say it is
		// authorized.
		ooc, waiting := false, r.Auth == nil
		typeStatus = func(t string) string {
			if expired {
				return TypeAuthExpired
			}
			if r.Auth == nil {
				return TypeWaiting
			}
			switch r.Auth.Results[t] {
			case ResultAuthorized:
				return TypeAuthorized
			case ResultOutOfCompliance:
				return TypeOutOfCompliance
			case ResultInvalidTag:
				return TypeInvalidTag
			case ResultNotAuthorized:
				return TypeNotAuthorized
			case "":
				return TypeWaiting
			}
			return TypeInvalid
		}
		if r.Auth != nil {
			for t := range inUse {
				ooc = ooc || r.Auth.Results[t] == ResultOutOfCompliance
				waiting = waiting || r.Auth.Results[t] == ""
			}
		}
		switch {
		case expired:
			s.Authorization = AuthExpired
		case len(inUse) == 0:
			s.Authorization = AuthNoLicenses
		case ooc:
			s.Authorization = AuthOutOfCompliance
		case waiting:
			s.Authorization = AuthNotApplicable
		default:
			s.Authorization = AuthAuthorized
		}
	}
	for _, t := range licenseTypes() {
		if n := inUse[t]; n > 0 {
			s.Usage = append(s.Usage, UsageLine{Type: t, Name: typeName(t), Count: n, Status: typeStatus(t)})
		}
	}
	return s
}
