package agent

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"vxway/agentclient"
)

// licenseTypes lists the types in display order.
func licenseTypes() []string {
	return []string{agentclient.TypeRMS, agentclient.TypeRoom, agentclient.TypeDesktop}
}

// typeName is the display name of a license type.
func typeName(t string) string {
	switch t {
	case agentclient.TypeRMS:
		return "Rich Media Session"
	case agentclient.TypeRoom:
		return "Room Registration"
	case agentclient.TypeDesktop:
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
	// Skew is the device's best estimate of the manager's time minus its
	// clock: requests are stamped and certificates judged at that time.
	Skew time.Duration
	// Seq is the request counter of this exchange (licproto.Request.Seq).
	Seq int64
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
type Dialer func(cfg agentclient.Config) (Manager, error)

// isGone reports whether err says the manager no longer knows the device.
func isGone(err error) bool {
	var r *agentclient.Rejected
	return errors.As(err, &r) && r.Gone
}

// isRejected reports whether err is a refusal by the manager.
func isRejected(err error) bool {
	var r *agentclient.Rejected
	return errors.As(err, &r)
}

// maxTokenLength is the longest token accepted.
const maxTokenLength = 4096

func validateToken(tok string) error {
	t := tok
	if len(t) == 0 {
		return fmt.Errorf("%w: the token is empty; paste the Product Instance Registration Token from the manager: xcommand License Smart Register Token: \"<token>\"", agentclient.ErrInvalidToken)
	}
	if len(t) > maxTokenLength {
		return fmt.Errorf("%w: the token is %d characters, at most %d are allowed", agentclient.ErrInvalidToken, len(t), maxTokenLength)
	}
	blank := true
	for _, r := range t {
		if r < 0x21 || r > 0x7e {
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
				continue
			}
			return fmt.Errorf("%w: the token holds a character that is not printable ASCII; copy it again from the manager", agentclient.ErrInvalidToken)
		}
		blank = false
	}
	if blank {
		return fmt.Errorf("%w: the token is blank; paste the Product Instance Registration Token from the manager", agentclient.ErrInvalidToken)
	}
	for _, r := range t {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return fmt.Errorf("%w: the token holds white space; copy it again from the manager", agentclient.ErrInvalidToken)
		}
	}
	return nil
}
