package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"vxway/reservation"
)

// SocketPath is the local API socket below the device root.
const SocketPath = "run/vxway/smartagent.sock"

// maxRequestBody caps a local API request body.
const maxRequestBody = 64 << 10

// Local API wire types.
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
	// SessionsCall is call control reporting encrypted sessions.
	SessionsCall struct {
		Encrypted int  `json:"encrypted"`
		WebRTC    bool `json:"webrtc"`
	}
	apiError struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
)

// errorCodes maps sentinel errors to the codes the API sends, so that
// clients get errors.Is back.
func errorCodes() []struct {
	err    error
	code   string
	status int
} {
	return []struct {
		err    error
		code   string
		status int
	}{
		{ErrInvalidToken, "invalid_token", http.StatusBadRequest},
		{ErrInvalidConfig, "invalid", http.StatusBadRequest},
		{ErrRegistered, "registered", http.StatusConflict},
		{ErrNotRegistered, "not_registered", http.StatusConflict},
		{ErrNotEnabled, "not_enabled", http.StatusConflict},
		{ErrUnauthorized, "unauthorized", http.StatusForbidden},
		{ErrPending, "pending", http.StatusAccepted},
		{ErrTransport, "transport", http.StatusConflict},
		{ErrNoTrust, "no_trust", http.StatusConflict},
		{ErrReservation, "reservation", http.StatusConflict},
		{ErrNotReserved, "not_reserved", http.StatusForbidden},
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

// Handler is the local API: JSON over HTTP, served on the unix socket.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		a.SyncEnabled()
		reply(w, a.Status(), nil)
	})
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, r *http.Request) { reply(w, a.Config(), nil) })
	mux.HandleFunc("PUT /v1/config", func(w http.ResponseWriter, r *http.Request) {
		var c ConfigChange
		if !decode(w, r, &c) {
			return
		}
		cfg, err := a.SetConfig(c.Leaf, c.Value)
		reply(w, cfg, err)
	})
	mux.HandleFunc("POST /v1/enable", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, a.Enable()) })
	mux.HandleFunc("POST /v1/register", func(w http.ResponseWriter, r *http.Request) {
		var c RegisterCall
		if !decode(w, r, &c) {
			return
		}
		a.SyncEnabled()
		err := a.Register(c.Token, c.Reregister)
		reply(w, a.Status(), err)
	})
	mux.HandleFunc("POST /v1/deregister", func(w http.ResponseWriter, r *http.Request) {
		warn, err := a.Deregister()
		reply(w, DeregisterResult{Warning: warn}, err)
	})
	mux.HandleFunc("POST /v1/renew-authorization", func(w http.ResponseWriter, r *http.Request) {
		err := a.RenewAuthorization()
		reply(w, a.Status(), err)
	})
	mux.HandleFunc("POST /v1/renew-registration", func(w http.ResponseWriter, r *http.Request) {
		err := a.RenewRegistration()
		reply(w, a.Status(), err)
	})
	mux.HandleFunc("POST /v1/retry", func(w http.ResponseWriter, r *http.Request) {
		a.RetryNow()
		reply(w, a.Status(), nil)
	})
	mux.HandleFunc("POST /v1/update-usage", func(w http.ResponseWriter, r *http.Request) {
		err := a.UpdateUsage()
		reply(w, a.Status(), err)
	})
	mux.HandleFunc("PUT /v1/usage", func(w http.ResponseWriter, r *http.Request) {
		var c UsageCall
		if !decode(w, r, &c) {
			return
		}
		reply(w, nil, a.SetUsage(c.Type, c.Count))
	})
	mux.HandleFunc("PUT /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		var c SessionsCall
		if !decode(w, r, &c) {
			return
		}
		st, err := a.SetSessions(c.Encrypted, c.WebRTC)
		reply(w, st, err)
	})
	a.reservationRoutes(mux)
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeLimit(w, r, v, maxRequestBody)
}

func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		reply(w, nil, fmt.Errorf("%w: request body: %v", ErrInvalidConfig, err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		e := apiError{Error: err.Error(), Code: "failed"}
		status := http.StatusBadGateway
		for _, c := range errorCodes() {
			if errors.Is(err, c.err) {
				e.Code, status = c.code, c.status
				break
			}
		}
		if e.Code == "failed" && isRejected(err) {
			e.Code = "rejected"
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(e)
		return
	}
	if v == nil {
		v = struct{}{}
	}
	json.NewEncoder(w).Encode(v)
}

// SyncEnabled turns Smart Licensing on when the platform says the device
// is an Expressway (Service Select) and the agent has not seen it yet.
func (a *Agent) SyncEnabled() {
	a.mu.Lock()
	on := a.st.Enabled
	a.mu.Unlock()
	if on {
		return
	}
	if enabled, err := platformEnabled(a.root); err == nil && enabled {
		if err := a.Enable(); err != nil {
			a.logf("licensing: %v", err)
		}
	}
}

// Listen opens the local API socket (replacing a stale one), readable and
// writable by local clients: the admin shell and call control run as
// other users on the device.
func Listen(socket string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(socket), err)
	}
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale %s: %w", socket, err)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", socket, err)
	}
	if err := os.Chmod(socket, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("opening %s to local clients: %w", socket, err)
	}
	return ln, nil
}

// Serve serves the local API on ln until ctx ends.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	return ServeHandler(ctx, ln, a.Handler())
}

// Loading is the local API of an agent that is still loading its state:
// the socket can accept connections as soon as the process starts (which
// is what init waits for at boot), and each request waits until Ready
// hands over the loaded agent, so no request ever sees half-loaded state.
type Loading struct {
	done chan struct{}
	h    http.Handler
	err  error
}

// NewLoading returns the local API of an agent not loaded yet.
func NewLoading() *Loading { return &Loading{done: make(chan struct{})} }

// Ready serves a's local API from now on, including the requests that
// are waiting. Call it once, after New, SyncEnabled and Start.
func (l *Loading) Ready(a *Agent) {
	l.h = a.Handler()
	close(l.done)
}

// Fail answers the waiting and later requests with err: the agent could
// not load and the daemon is about to stop.
func (l *Loading) Fail(err error) {
	l.err = err
	close(l.done)
}

// ServeHTTP waits for the agent, then serves the request.
func (l *Loading) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-l.done:
	case <-r.Context().Done():
		return
	}
	if l.err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(apiError{Error: "the Smart Licensing agent could not start: " + l.err.Error(), Code: "failed"})
		return
	}
	l.h.ServeHTTP(w, r)
}

// ServeHandler serves h on ln until ctx ends.
func ServeHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Client talks to the agent's local API on its unix socket.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client of the agent listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: 1,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// ErrAgentDown marks an agent that does not answer on its socket.
var ErrAgentDown = errors.New("the Smart Licensing agent is not running")

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		// Codes are XML: keep < and > as they are, not \u003c.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			return fmt.Errorf("encoding %s request: %w", path, err)
		}
		body = &b
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, body)
	if err != nil {
		return fmt.Errorf("building %s request: %w", path, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w (socket %s): %v", ErrAgentDown, c.socket, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading %s answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiError
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			return fmt.Errorf("agent answered %s to %s", resp.Status, path)
		}
		for _, cd := range errorCodes() {
			if cd.code == e.Code {
				return &apiErr{msg: e.Error, sentinel: cd.err}
			}
		}
		if e.Code == "rejected" {
			return &Rejected{Reason: e.Error}
		}
		return errors.New(e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decoding %s answer: %w", path, err)
		}
	}
	return nil
}

// apiErr is an API error carrying its sentinel for errors.Is.
type apiErr struct {
	msg      string
	sentinel error
}

func (e *apiErr) Error() string { return e.msg }
func (e *apiErr) Unwrap() error { return e.sentinel }

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
// (see Agent.RetryNow) and reports the status after it.
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
