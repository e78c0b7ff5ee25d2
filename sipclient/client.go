package sipclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
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
	socket string
	hc     *http.Client
}

// NewClient returns a client of the service listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *Client) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://sip"+path, bytes.NewReader(nil))
	if err != nil {
		return fmt.Errorf("building %s request: %w", path, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w (socket %s): %v", ErrServiceDown, c.socket, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading %s answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the SIP service answered %s to %s: %s", resp.Status, path, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decoding %s answer: %w", path, err)
		}
	}
	return nil
}

// Status fetches the service's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.call(ctx, http.MethodGet, "/v1/status", &s)
}

// Registrations lists the live registrations.
func (c *Client) Registrations(ctx context.Context) ([]Registration, error) {
	var r []Registration
	return r, c.call(ctx, http.MethodGet, "/v1/registrations", &r)
}

// Reload makes the service read its settings and credentials again.
func (c *Client) Reload(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/reload", nil)
}
