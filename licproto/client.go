package licproto

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"vxway/clock"
)

// Client is the device side of one exchange: it builds and signs a request,
// POSTs it to the transport URL and verifies the answer. The caller supplies
// the HTTP client (TLS roots pinned to the manager CAs, proxy settings).
type Client struct {
	HTTP     *http.Client
	URL      string
	Verifier *Verifier
	Clock    clock.Clock
	// Skew is the manager's clock minus the device's as the device
	// estimates it: requests are stamped with the device clock plus Skew,
	// and certificates are judged valid at that time.
	Skew time.Duration
	// Seq is the request counter to send (NewRequestSeq); 0 sends a legacy
	// request without one.
	Seq int64
}

// Do sends a request of type t for udi with payload and the counter Seq,
// signed by key and stamped with the device clock plus Skew, and decodes
// an ok answer's result into result (may be nil). When the manager
// refuses, the error is its *Error (errors.Is against ErrTokenExpired and
// the other sentinels works). The verified answer is returned in both
// cases when there is one, so the caller can learn the manager's time
// from a refusal too.
func (c *Client) Do(ctx context.Context, t Type, udi string, key *ecdsa.PrivateKey, payload, result any) (*Verified, error) {
	clk := c.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	// Stamp the request with the device's estimate of the manager's time.
	req, err := NewRequestSeq(t, udi, c.Seq, payload, clk.Now().Add(c.Skew), key)
	if err != nil {
		return nil, err
	}
	body, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building %s request to %s: %w", t, c.URL, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("sending %s request: %w", t, err)
	}
	defer resp.Body.Close()
	ab, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s answer: %w", t, err)
	}
	v, err := c.Verifier.Verify(req, ab, clk.Now(), c.Skew)
	if err != nil {
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("manager at %s answered HTTP %s: %w", c.URL, resp.Status, err)
		}
		return nil, err
	}
	if err := v.Err(); err != nil {
		return v, err
	}
	if result != nil {
		if err := json.Unmarshal(v.Payload, result); err != nil {
			return v, fmt.Errorf("%w: %s result: %v", ErrMalformedAnswer, t, err)
		}
	}
	return v, nil
}
