package agentclient

import "time"

// Registration statuses, as the Status section of docs/licensing.md words
// them.
const (
	RegRegistered   = "Registered"
	RegUnregistered = "Unregistered"
	RegExpired      = "Unregistered: Registration Expired"
	RegPending      = "Unregistered: Registration Pending"
	RegFailed       = "Unregistered: Registration Failed"
	// RegReservedSLR and RegReservedPLR are shown while a reservation is
	// in force (docs/licensing.md, License reservation).
	RegReservedSLR = "Registered - Specific License Reservation"
	RegReservedPLR = "Registered - Permanent License Reservation"
)

// Export-controlled functionality, as Status.ExportControlled shows it.
const (
	ExportAllowed    = "Allowed"
	ExportNotAllowed = "Not Allowed"
)

// Authorization statuses, as the Status section of docs/licensing.md
// words them.
const (
	AuthAuthorized      = "Authorized"
	AuthExpired         = "Authorization Expired"
	AuthOutOfCompliance = "Out-of-compliance"
	AuthNoLicenses      = "No Licenses in Use"
	AuthEvaluation      = "Evaluation Mode"
	AuthEvalExpired     = "Evaluation Expired"
	AuthNotApplicable   = "Not Applicable"
	// AuthReserved is shown while a reservation is in force.
	AuthReserved = "Authorized - Reserved"
)

// Per license type statuses, as the Status section of docs/licensing.md
// words them.
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

// Per license type statuses under a reservation.
const (
	TypeReserved     = "Reserved"
	TypeResExpired   = "Reservation Expired"
	TypeNotReserved  = "Not Reserved"
	TypeOverReserved = "Over Reservation"
	TypeNotStarted   = "Reservation Not Started"
)

// Time sources of licensing time (Status TimeSource).
const (
	// TimeManager: the manager's signed time, learned from an answer
	// since the agent started, advanced by the monotonic clock.
	TimeManager = "Manager"
	// TimeDevice: the device's clock plus the offset last measured.
	TimeDevice = "Device"
)

// License types the device consumes, as call control reports them.
const (
	TypeRMS     = "rms"
	TypeRoom    = "room"
	TypeDesktop = "desktop"
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
	// Skew is the manager's time minus the device's licensing time: the
	// offset learned from the manager's signed answers (TimeSource
	// Manager), or the one last measured (Device). It is shown as `Time
	// Offset` in seconds; alarm 30049 is raised beyond a few minutes.
	Skew time.Duration `json:"skew"`
	// TimeSource is where licensing time comes from now: TimeManager or
	// TimeDevice; empty while Smart Licensing is off.
	TimeSource string `json:"time_source,omitempty"`

	FailureReason string `json:"failure_reason,omitempty"`
	Warning       string `json:"warning,omitempty"`
	// Dormant is set on a VCS whose kept Smart Licensing settings and
	// registration are unused until it is converted to Expressway.
	Dormant bool `json:"dormant,omitempty"`

	Usage []UsageLine `json:"usage"`
	// Licenses is every license type with its installed, in use,
	// borrowed and lent counts.
	Licenses []LicenseLine `json:"licenses"`
	// Peak is the most licenses of each type in use at once since the
	// agent started (types never in use are missing).
	Peak        map[string]int    `json:"peak,omitempty"`
	Export      ExportStatus      `json:"export"`
	Reservation ReservationStatus `json:"reservation"`
	Alarms      []int             `json:"alarms"`
}

// UsageLine is one license type in use.
type UsageLine struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Peak is the most in use at once since the agent started.
	Peak int `json:"peak"`
	// Real is the part the SIP service has live, Simulated the part
	// Usage Set added; Count is their sum.
	Real      int    `json:"real"`
	Simulated int    `json:"simulated"`
	Status    string `json:"status"`
}

// ExportStatus is the export-control state call control sees.
type ExportStatus struct {
	Limit     int `json:"limit"`
	Encrypted int `json:"encrypted"`
	// Real is the part the SIP service has live (TLS registrations and
	// calls), Simulated the part Sessions Set added; Encrypted is their
	// sum.
	Real      int  `json:"real"`
	Simulated int  `json:"simulated"`
	WebRTC    bool `json:"webrtc"`
	// Accepting is false from the moment the cap is reached until usage
	// falls below the low watermark.
	Accepting   bool `json:"accepting"`
	Approaching bool `json:"approaching"`
	Reached     bool `json:"reached"`
	// ReadmitBelow is the usage under which new sessions are admitted
	// again once the cap was reached.
	ReadmitBelow int `json:"readmit_below"`
}

// Reservation statuses shown in xstatus License Smart Reservation Status.
const (
	ResOff       = "Off"
	ResNone      = "No Reservation"
	ResRequested = "Request Pending"
	ResReserved  = "Reserved"
	ResError     = "Reservation Error"
)

// ReservationStatus is the reservation part of Status.
type ReservationStatus struct {
	// Enabled is reservation mode (xconfiguration License Smart
	// ReservationEnable).
	Enabled bool   `json:"enabled"`
	Status  string `json:"status"`
	// Kind is PLR or SLR while a reservation is installed.
	Kind string `json:"kind,omitempty"`
	// ExportControl is "Allowed" or "Not Allowed" while installed.
	ExportControl string `json:"export_control,omitempty"`
	InstanceID    string `json:"instance_id,omitempty"`
	// RequestCode is the request in progress, or the installed one's.
	RequestCode string `json:"request_code,omitempty"`
	// Pending reports a request waiting for its authorization code.
	Pending bool `json:"pending,omitempty"`
	// Issued is the issue time of the newest installed code.
	Issued time.Time `json:"issued,omitzero"`
	// JudgedAt is when the entitlements were judged (agent start or the
	// last install).
	JudgedAt time.Time         `json:"judged_at,omitzero"`
	Licenses []ReservedLicense `json:"licenses,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// ReservedLicense is one reserved license type.
type ReservedLicense struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Validity is TERM or PERPETUAL (SLR), or CAPACITY (PLR: the box's
	// capacity).
	Validity string    `json:"validity"`
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	// Status is Active, Expired, Not Started or Invalid-tag.
	Status string `json:"status"`
}

// Reservation calls and results of the local API.
type (
	// ReservationCodeCall carries an authorization code.
	ReservationCodeCall struct {
		Code string `json:"code"`
	}
	// ReservationEnableCall turns reservation mode on or off.
	ReservationEnableCall struct {
		Enabled bool `json:"enabled"`
	}
	// ReservationRequestResult is the request code to print.
	ReservationRequestResult struct {
		RequestCode string `json:"request_code"`
		New         bool   `json:"new"`
	}
	// ReservationInstallResult is what an install prints.
	ReservationInstallResult struct {
		Kind          string `json:"kind"`
		ExportControl bool   `json:"export_control"`
		Confirmation  string `json:"confirmation,omitempty"`
		Updated       bool   `json:"updated"`
	}
	// ReservationReturnResult is the return code to print.
	ReservationReturnResult struct {
		ReturnCode string `json:"return_code"`
	}
)
