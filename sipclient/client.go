package sipclient

import (
	"context"
	"errors"
	"net/http"
	"time"

	"vxway/unixhttp"
)

// SocketPath is the SIP service's local API socket below the device root.
const SocketPath = "run/vxway/sip.sock"

// ErrServiceDown marks a SIP service that does not answer on its socket.
var ErrServiceDown = errors.New("the SIP service is not running")

// Status is what `xstatus SIP` shows.
type Status struct {
	Domain         string `json:"domain"`
	Authentication bool   `json:"authentication"`
	Neighbor       string `json:"neighbor"`
	// Advertise and AdvertiseTLS are the host:port put in Record-Route
	// and Via for UDP/TCP and for TLS; AdvertiseSource says where they
	// come from: "configuration", "hypervisor" or "listening".
	Advertise       string `json:"advertise"`
	AdvertiseTLS    string `json:"advertise_tls"`
	AdvertiseSource string `json:"advertise_source"`
	// Registrations per license type and over TLS.
	Room      int `json:"room"`
	Desktop   int `json:"desktop"`
	Encrypted int `json:"encrypted"`
	// Calls are the live dialogs; NeighborCalls those that use a Rich
	// Media Session; EncryptedCalls those with a TLS leg.
	Calls          int `json:"calls"`
	NeighborCalls  int `json:"neighbor_calls"`
	EncryptedCalls int `json:"encrypted_calls"`
	// Refused counts refusals since the service started, by reason.
	Refused map[string]int `json:"refused"`
	// Licensing is "" when the agent answers, else why it does not.
	Licensing string `json:"licensing,omitempty"`
	// ResidentKiB is the service's resident memory (0 where unknown).
	ResidentKiB int `json:"resident_kib"`
}

// Registration is one live binding.
type Registration struct {
	AOR       string    `json:"aor"`
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	Type      string    `json:"type"`
	UserAgent string    `json:"user_agent"`
	Expires   time.Time `json:"expires"`
}

// Client talks to the SIP service's local API.
type Client struct {
	api *unixhttp.Client
}

// NewClient returns a client of the service listening on socket.
func NewClient(socket string) *Client {
	return &Client{api: unixhttp.New(socket, unixhttp.Options{
		Host:      "sip",
		Name:      "the SIP service",
		Down:      ErrServiceDown,
		Timeout:   30 * time.Second,
		MaxAnswer: 64 << 20,
	})}
}

// Status fetches the service's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.api.Call(ctx, http.MethodGet, "/v1/status", nil, &s)
	return s, err
}

// Registrations lists the live registrations.
func (c *Client) Registrations(ctx context.Context) ([]Registration, error) {
	var r []Registration
	err := c.api.Call(ctx, http.MethodGet, "/v1/registrations", nil, &r)
	return r, err
}

// Reload makes the service read its settings and credentials again.
func (c *Client) Reload(ctx context.Context) error {
	return c.api.Call(ctx, http.MethodPost, "/v1/reload", nil, nil)
}
