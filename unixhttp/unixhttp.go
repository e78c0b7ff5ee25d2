// Package unixhttp is the client transport of the device's local APIs:
// HTTP over a unix socket, with JSON bodies both ways. The clients of the
// licensing agent (agentclient), the SIP service (sipclient) and init's
// system service (sysclient) build on it and keep their own routes, wire
// types and errors; it links no other vxway package.
package unixhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Options shape a Client.
type Options struct {
	// Host names the server in request URLs (http://Host/path); requests
	// go to the socket whatever it says.
	Host string
	// Name is the server in error messages ("the SIP service").
	Name string
	// Down is the caller's sentinel for a server that does not answer:
	// every request that gets no answer (nothing accepts on the socket,
	// the connection drops, a timeout) fails with an error wrapping it.
	Down error
	// Timeout bounds a whole exchange, answer body included; 0 sets none,
	// for answers streamed while a long operation runs.
	Timeout time.Duration
	// HeaderTimeout bounds the wait for an answer's header; 0 sets none.
	HeaderTimeout time.Duration
	// MaxAnswer caps what Call reads of one answer.
	MaxAnswer int64
}

// Client sends requests to the server on one unix socket. It keeps one
// idle connection for the next request.
type Client struct {
	socket string
	o      Options
	hc     *http.Client
}

// New returns a client of the server listening on socket.
func New(socket string, o Options) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:          1,
		ResponseHeaderTimeout: o.HeaderTimeout,
	}
	return &Client{socket: socket, o: o, hc: &http.Client{Transport: tr, Timeout: o.Timeout}}
}

// Socket is the path the client dials.
func (c *Client) Socket() string { return c.socket }

// Send sends a request to path with in, when not nil, as its JSON body
// (codes are XML: < and > go as they are, not as \u003c), and returns the
// answer, whose body the caller closes. A request that gets no answer
// fails with an error wrapping Options.Down that names the socket.
func (c *Client) Send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			return nil, fmt.Errorf("encoding %s request: %w", path, err)
		}
		body = &b
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.o.Host+path, body)
	if err != nil {
		return nil, fmt.Errorf("building %s request: %w", path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// The url.Error only repeats the made-up URL; keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w (socket %s): %v", c.o.Down, c.socket, err)
	}
	return resp, nil
}

// StatusError is an answer other than 200 OK, with its body for the
// caller to decode the server's own error from.
type StatusError struct {
	// Name is the server, Path the route asked.
	Name, Path string
	// Status is the answer's status line ("409 Conflict"); Code its
	// number.
	Status string
	Code   int
	// Body is the answer's body (at most Options.MaxAnswer bytes).
	Body []byte
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s answered %s to %s", e.Name, e.Status, e.Path)
	if b := bytes.TrimSpace(e.Body); len(b) > 0 {
		msg += ": " + string(b)
	}
	return msg
}

// Call sends a request like Send and reads an answer of at most
// Options.MaxAnswer bytes: 200 OK is decoded into out (when not nil), any
// other status comes back as a *StatusError.
func (c *Client) Call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.Send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxAnswer))
	if err != nil {
		return fmt.Errorf("reading %s answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Name: c.o.Name, Path: path, Status: resp.Status, Code: resp.StatusCode, Body: b}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decoding %s answer: %w", path, err)
		}
	}
	return nil
}
