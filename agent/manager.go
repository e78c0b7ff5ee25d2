package agent

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"
)

// License types the device consumes, as call control reports them.
const (
	TypeRMS     = "rms"
	TypeRoom    = "room"
	TypeDesktop = "desktop"
)

// licenseTypes lists the types in display order.
func licenseTypes() []string { return []string{TypeRMS, TypeRoom, TypeDesktop} }

// typeName is the display name of a license type.
func typeName(t string) string {
	switch t {
	case TypeRMS:
		return "Rich Media Session"
	case TypeRoom:
		return "Room Registration"
	case TypeDesktop:
		return "Desktop Registration"
	}
	return t
}

// Per-type results the manager gives an authorization request.
const (
	ResultAuthorized      = "authorized"
	ResultOutOfCompliance = "out_of_compliance"
	ResultInvalidTag      = "invalid_tag"
	ResultNotAuthorized   = "not_authorized"
)

// Device is what identifies the device to the manager once registered.
type Device struct {
	Key        *ecdsa.PrivateKey
	UDI        string
	InstanceID string
	CertPEM    []byte
	// Skew is the manager's clock minus the device's, as last measured.
	Skew time.Duration
}

// RegisterRequest is the register message.
type RegisterRequest struct {
	Token      string
	Reregister bool
	// Hostname and IP are empty when the privacy flag is on.
	Hostname, IP string
}

// RegisterAnswer is the manager's answer to a registration.
type RegisterAnswer struct {
	InstanceID       string
	SmartAccount     string
	VirtualAccount   string
	ExportControlled bool
	CertPEM          []byte
	CertNotAfter     time.Time
	ManagerTime      time.Time
}

// RenewAnswer is the manager's answer to a registration renewal.
type RenewAnswer struct {
	CertPEM      []byte
	CertNotAfter time.Time
	ManagerTime  time.Time
}

// AuthAnswer is the manager's answer to an authorization request.
type AuthAnswer struct {
	// Results maps each license type reported to a Result* value.
	Results     map[string]string
	ManagerTime time.Time
}

// Manager is the license manager as the agent sees it: one transport,
// one manager. Errors that carry a refusal by the manager are *Rejected;
// anything else is a communication failure and is retried.
type Manager interface {
	Register(ctx context.Context, d Device, req RegisterRequest) (RegisterAnswer, error)
	RenewRegistration(ctx context.Context, d Device, hostname, ip string) (RenewAnswer, error)
	Authorize(ctx context.Context, d Device, usage map[string]int, hostname, ip string) (AuthAnswer, error)
	Deregister(ctx context.Context, d Device) error
}

// Dialer makes the Manager for a configuration.
type Dialer func(cfg Config) (Manager, error)

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

// isGone reports whether err says the manager no longer knows the device.
func isGone(err error) bool {
	var r *Rejected
	return errors.As(err, &r) && r.Gone
}

// isRejected reports whether err is a refusal by the manager.
func isRejected(err error) bool {
	var r *Rejected
	return errors.As(err, &r)
}

// ErrNotEnabled marks an operation that needs Smart Licensing on.
var ErrNotEnabled = errors.New("smart licensing is not enabled")

// ErrNotRegistered marks an operation that needs a registration.
var ErrNotRegistered = errors.New("device is not registered")

// ErrInvalidToken marks an empty, blank or malformed token.
var ErrInvalidToken = errors.New("invalid registration token")

// ErrUnauthorized marks a new endpoint registration refused because the
// evaluation expired and the device is not registered.
var ErrUnauthorized = errors.New("unauthorized")

// ErrPending marks a registration that could not reach the manager and is
// being retried.
var ErrPending = errors.New("registration pending")

func validateToken(tok string) error {
	t := tok
	if len(t) == 0 {
		return fmt.Errorf("%w: the token is empty; paste the Product Instance Registration Token from the manager: xcommand License Smart Register Token: \"<token>\"", ErrInvalidToken)
	}
	if len(t) > maxTokenLength {
		return fmt.Errorf("%w: the token is %d characters, at most %d are allowed", ErrInvalidToken, len(t), maxTokenLength)
	}
	blank := true
	for _, r := range t {
		if r < 0x21 || r > 0x7e {
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
				continue
			}
			return fmt.Errorf("%w: the token holds a character that is not printable ASCII; copy it again from the manager", ErrInvalidToken)
		}
		blank = false
	}
	if blank {
		return fmt.Errorf("%w: the token is blank; paste the Product Instance Registration Token from the manager", ErrInvalidToken)
	}
	for _, r := range t {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return fmt.Errorf("%w: the token holds white space; copy it again from the manager", ErrInvalidToken)
		}
	}
	return nil
}
