package agentclient

import (
	"errors"
	"net/http"

	"vxway/reservation"
)

// Errors the local API carries back, so that callers branch with
// errors.Is on either side of the socket.
var (
	// ErrAgentDown marks an agent that does not answer on its socket.
	ErrAgentDown = errors.New("the Smart Licensing agent is not running")
	// ErrInvalidConfig marks a configuration value (or a request) that is
	// refused.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrRegistered marks a change refused because the device is
	// registered.
	ErrRegistered = errors.New("device is registered")
	// ErrNotEnabled marks an operation that needs Smart Licensing on.
	ErrNotEnabled = errors.New("smart licensing is not enabled")
	// ErrServiceSelect marks Smart Licensing asked for on a VCS: it comes
	// only with converting the device to Expressway in Service Select.
	ErrServiceSelect = errors.New("smart licensing is off on a VCS")
	// ErrNotRegistered marks an operation that needs a registration.
	ErrNotRegistered = errors.New("device is not registered")
	// ErrInvalidToken marks an empty, blank or malformed token.
	ErrInvalidToken = errors.New("invalid registration token")
	// ErrUnauthorized marks a new endpoint registration refused because
	// the evaluation expired and the device is not registered.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrPending marks a registration that could not reach the manager
	// and is being retried.
	ErrPending = errors.New("registration pending")
	// ErrNoTrust marks a device image without manager CA certificates.
	ErrNoTrust = errors.New("no trusted manager CA")
	// ErrTransport marks a transport configuration that cannot be used
	// yet.
	ErrTransport = errors.New("transport not usable")
	// ErrReservation marks a reservation command refused in the current
	// mode (reservation off, the device registered, a reservation
	// installed when turning it off).
	ErrReservation = errors.New("license reservation")
	// ErrNotReserved marks usage beyond what the installed reservation
	// allows: more than reserved, a reserved license that expired, or
	// more than the box's capacity under PLR.
	ErrNotReserved = errors.New("not covered by the license reservation")
	// ErrNotPermitted marks a request from a local user the agent does
	// not serve that request for (checked by the peer's credentials on
	// the socket).
	ErrNotPermitted = errors.New("not permitted")
	// ErrExportLimit marks a new encrypted registration or call refused
	// because export control's limit was reached.
	ErrExportLimit = errors.New("export-control limit reached")
)

// Rejected is a refusal by the manager (expired, used-up, revoked or
// unknown token; unknown instance): retrying does not help.
type Rejected struct {
	Reason string
	Err    error
	// Gone is set when the manager no longer knows the product instance
	// (removed on the manager by hand): the registration has ended.
	Gone bool
}

func (r *Rejected) Error() string { return r.Reason }

// Unwrap gives the underlying typed error, for errors.Is.
func (r *Rejected) Unwrap() error { return r.Err }

// ErrorAnswer is the body of a local API answer that is not 200 OK.
type ErrorAnswer struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Codes of ErrorAnswer that name no sentinel error.
const (
	// CodeFailed is any other failure.
	CodeFailed = "failed"
	// CodeRejected is a refusal by the manager (Rejected).
	CodeRejected = "rejected"
)

// errorCode is the code and HTTP status the API sends for a sentinel.
type errorCode struct {
	err    error
	code   string
	status int
}

// errorCodes maps sentinel errors to the codes the API sends, so that
// clients get errors.Is back.
func errorCodes() []errorCode {
	return []errorCode{
		{ErrInvalidToken, "invalid_token", http.StatusBadRequest},
		{ErrInvalidConfig, "invalid", http.StatusBadRequest},
		{ErrRegistered, "registered", http.StatusConflict},
		{ErrNotRegistered, "not_registered", http.StatusConflict},
		{ErrNotEnabled, "not_enabled", http.StatusConflict},
		{ErrServiceSelect, "service_select", http.StatusConflict},
		{ErrUnauthorized, "unauthorized", http.StatusForbidden},
		{ErrPending, "pending", http.StatusAccepted},
		{ErrTransport, "transport", http.StatusConflict},
		{ErrNoTrust, "no_trust", http.StatusConflict},
		{ErrReservation, "reservation", http.StatusConflict},
		{ErrNotReserved, "not_reserved", http.StatusForbidden},
		{ErrNotPermitted, "not_permitted", http.StatusForbidden},
		{ErrExportLimit, "export_limit", http.StatusForbidden},
		{reservation.ErrOversized, "res_oversized", http.StatusBadRequest},
		{reservation.ErrMistyped, "res_mistyped", http.StatusBadRequest},
		{reservation.ErrMalformed, "res_malformed", http.StatusBadRequest},
		{reservation.ErrSignature, "res_signature", http.StatusBadRequest},
		{reservation.ErrOtherUDI, "res_other_udi", http.StatusBadRequest},
		{reservation.ErrOtherRequest, "res_other_request", http.StatusBadRequest},
		{reservation.ErrOlder, "res_older", http.StatusConflict},
		{reservation.ErrReturned, "res_returned", http.StatusConflict},
		{reservation.ErrNoRequest, "res_no_request", http.StatusConflict},
		{reservation.ErrNotInstalled, "res_not_installed", http.StatusConflict},
		{reservation.ErrInstalled, "res_installed", http.StatusConflict},
		{reservation.ErrOtherKind, "res_other_kind", http.StatusConflict},
	}
}

// AnswerFor is the error answer and HTTP status the agent sends for err:
// the code of the first sentinel err wraps, CodeRejected for a refusal by
// the manager, else CodeFailed with 502 Bad Gateway.
func AnswerFor(err error) (ErrorAnswer, int) {
	e := ErrorAnswer{Error: err.Error(), Code: CodeFailed}
	for _, c := range errorCodes() {
		if errors.Is(err, c.err) {
			e.Code = c.code
			return e, c.status
		}
	}
	var r *Rejected
	if errors.As(err, &r) {
		e.Code = CodeRejected
	}
	return e, http.StatusBadGateway
}

// apiErr is an API error carrying its sentinel for errors.Is.
type apiErr struct {
	msg      string
	sentinel error
}

func (e *apiErr) Error() string { return e.msg }
func (e *apiErr) Unwrap() error { return e.sentinel }

// errorOf turns an error answer back into an error: its sentinel for
// errors.Is, a *Rejected, or the bare message.
func errorOf(e ErrorAnswer) error {
	for _, cd := range errorCodes() {
		if cd.code == e.Code {
			return &apiErr{msg: e.Error, sentinel: cd.err}
		}
	}
	if e.Code == CodeRejected {
		return &Rejected{Reason: e.Error}
	}
	return errors.New(e.Error)
}
