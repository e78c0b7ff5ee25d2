package agentclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"vxway/unixhttp"
)

// Local API request and answer bodies.
type (
	// ConfigChange sets one configuration leaf.
	ConfigChange struct {
		Leaf  string `json:"leaf"`
		Value string `json:"value"`
	}
	// RegisterCall carries a registration token.
	RegisterCall struct {
		Token      string `json:"token"`
		Reregister bool   `json:"reregister"`
	}
	// DeregisterResult carries the warning of a local-only deregistration.
	DeregisterResult struct {
		Warning string `json:"warning,omitempty"`
	}
	// UsageCall is call control reporting one license type's usage.
	UsageCall struct {
		Type  string `json:"type"`
		Count int    `json:"count"`
	}
	// RealUsage is the SIP service reporting what it has live, and
	// asking, when Admit is set, to admit one more.
	RealUsage struct {
		Room      int        `json:"room"`
		Desktop   int        `json:"desktop"`
		RMS       int        `json:"rms"`
		Encrypted int        `json:"encrypted"`
		Admit     *Admission `json:"admit,omitempty"`
	}
	// Admission is one new registration (Type room or desktop) or call
	// (Type rms), over TLS when Encrypted; an empty Type with Encrypted
	// is an encrypted session that uses no license.
	Admission struct {
		Type      string `json:"type"`
		Encrypted bool   `json:"encrypted"`
	}
	// Admitted is the agent's answer to a RealUsage report.
	Admitted struct {
		Admitted bool         `json:"admitted"`
		Export   ExportStatus `json:"export"`
	}
	// SessionsCall is call control reporting encrypted sessions.
	SessionsCall struct {
		Encrypted int  `json:"encrypted"`
		WebRTC    bool `json:"webrtc"`
	}
)

// maxAnswer caps what the client reads of one answer.
const maxAnswer = 1 << 20

// Client talks to the agent's local API on its unix socket.
type Client struct {
	api *unixhttp.Client
}

// NewClient returns a client of the agent listening on socket.
func NewClient(socket string) *Client {
	return &Client{api: unixhttp.New(socket, unixhttp.Options{
		Host:      "agent",
		Name:      "the Smart Licensing agent",
		Down:      ErrAgentDown,
		Timeout:   2 * time.Minute,
		MaxAnswer: maxAnswer,
	})}
}

// call asks the agent; an error answer comes back as its sentinel (see
// errorOf) when the agent sent one.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	err := c.api.Call(ctx, method, path, in, out)
	var se *unixhttp.StatusError
	if errors.As(err, &se) {
		var e ErrorAnswer
		if json.Unmarshal(se.Body, &e) == nil && e.Error != "" {
			return errorOf(e)
		}
	}
	return err
}

// Status fetches the licensing status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodGet, "/v1/status", nil, &s)
	return s, err
}

// Config fetches the configuration (password redacted).
func (c *Client) Config(ctx context.Context) (Config, error) {
	var cfg Config
	err := c.call(ctx, http.MethodGet, "/v1/config", nil, &cfg)
	return cfg, err
}

// SetConfig sets one configuration leaf.
func (c *Client) SetConfig(ctx context.Context, leaf, value string) (Config, error) {
	var cfg Config
	err := c.call(ctx, http.MethodPut, "/v1/config", ConfigChange{Leaf: leaf, Value: value}, &cfg)
	return cfg, err
}

// Enable turns Smart Licensing on.
func (c *Client) Enable(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/enable", struct{}{}, nil)
}

// Register registers with token (reregister to move virtual accounts).
func (c *Client) Register(ctx context.Context, token string, reregister bool) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodPost, "/v1/register", RegisterCall{Token: token, Reregister: reregister}, &s)
	return s, err
}

// Deregister deregisters; the warning is set when it happened locally only.
func (c *Client) Deregister(ctx context.Context) (string, error) {
	var r DeregisterResult
	err := c.call(ctx, http.MethodPost, "/v1/deregister", struct{}{}, &r)
	return r.Warning, err
}

// Retry runs at once every exchange waiting for its retry after a failure
// (and a registered device checks in with an authorization request), and
// reports the status after it.
func (c *Client) Retry(ctx context.Context) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodPost, "/v1/retry", struct{}{}, &s)
	return s, err
}

// RenewAuthorization renews the authorization now.
func (c *Client) RenewAuthorization(ctx context.Context) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodPost, "/v1/renew-authorization", struct{}{}, &s)
	return s, err
}

// RenewRegistration renews the registration now.
func (c *Client) RenewRegistration(ctx context.Context) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodPost, "/v1/renew-registration", struct{}{}, &s)
	return s, err
}

// UpdateUsage reports usage to the manager now.
func (c *Client) UpdateUsage(ctx context.Context) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodPost, "/v1/update-usage", struct{}{}, &s)
	return s, err
}

// SetUsage reports the licenses of one type in use.
func (c *Client) SetUsage(ctx context.Context, typ string, count int) error {
	return c.call(ctx, http.MethodPut, "/v1/usage", UsageCall{Type: typ, Count: count}, nil)
}

// SetSessions reports encrypted sessions and WebRTC, answering whether a
// new encrypted session may be admitted.
func (c *Client) SetSessions(ctx context.Context, encrypted int, webrtc bool) (ExportStatus, error) {
	var st ExportStatus
	err := c.call(ctx, http.MethodPut, "/v1/sessions", SessionsCall{Encrypted: encrypted, WebRTC: webrtc}, &st)
	return st, err
}

// ReportUsage reports the real usage the SIP service has live and, when
// u.Admit is set, asks to admit one more; a refusal wraps
// ErrUnauthorized, ErrNotReserved or ErrExportLimit.
func (c *Client) ReportUsage(ctx context.Context, u RealUsage) (Admitted, error) {
	var a Admitted
	err := c.call(ctx, http.MethodPut, "/v1/real-usage", u, &a)
	return a, err
}

// SetReservationEnabled turns reservation mode on or off.
func (c *Client) SetReservationEnabled(ctx context.Context, on bool) error {
	return c.call(ctx, http.MethodPut, "/v1/reservation/enabled", ReservationEnableCall{Enabled: on}, nil)
}

// ReservationRequest returns the request code (made when there is none).
func (c *Client) ReservationRequest(ctx context.Context) (ReservationRequestResult, error) {
	var r ReservationRequestResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/request", struct{}{}, &r)
	return r, err
}

// ReservationInstall installs an authorization code.
func (c *Client) ReservationInstall(ctx context.Context, code string) (ReservationInstallResult, error) {
	var r ReservationInstallResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/install", ReservationCodeCall{Code: code}, &r)
	return r, err
}

// ReservationReturn returns the installed reservation.
func (c *Client) ReservationReturn(ctx context.Context) (ReservationReturnResult, error) {
	var r ReservationReturnResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/return", struct{}{}, &r)
	return r, err
}

// ReservationReturnAuthorization returns a code never installed.
func (c *Client) ReservationReturnAuthorization(ctx context.Context, code string) (ReservationReturnResult, error) {
	var r ReservationReturnResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/return-authorization", ReservationCodeCall{Code: code}, &r)
	return r, err
}

// ReservationCancel cancels the request in progress.
func (c *Client) ReservationCancel(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/reservation/cancel", struct{}{}, nil)
}
