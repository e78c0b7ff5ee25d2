// Package sysclient is the client of init's system service: the few
// operations that need root (installing an upgrade, restarting the
// device), asked for by the admin account's xAPI shell over a unix
// socket. It owns the socket's path and the wire format; the server is
// package syssvc, run inside init.
package sysclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"vxway/unixhttp"
)

// SocketPath is the system service's socket below the device root (root,
// group admin, mode 0660).
const SocketPath = "run/vxway/system.sock"

// Routes of the service.
const (
	RouteUpgrade       = "/upgrade"
	RouteReboot        = "/reboot"
	RouteBackupCreate  = "/backup/create"
	RouteBackupRestore = "/backup/restore"
	RouteBackupStatus  = "/backup/status"
)

// Bounds of the wire, both ways.
const (
	// MaxRequest is the largest request body the service reads.
	MaxRequest = 8 << 10
	// MaxURL is the longest upgrade URL.
	MaxURL = 2048
	// MaxLine is the longest event line of an answer.
	MaxLine = 16 << 10
	// MaxEvents bounds the events of one answer.
	MaxEvents = 1000
)

// Codes of refusals, in Event.Code.
const (
	CodeNotPermitted = "not_permitted"
	CodeBusy         = "busy"
	CodeBadRequest   = "bad_request"
	CodeFailed       = "failed"
)

// Errors the caller may branch on.
var (
	// ErrNotPermitted: the peer's user may not ask the service.
	ErrNotPermitted = errors.New("not permitted")
	// ErrBusy: another operation is running.
	ErrBusy = errors.New("the system service is busy")
	// ErrBadRequest: the request was malformed or too large.
	ErrBadRequest = errors.New("bad request")
	// ErrDown: nothing answers on the socket.
	ErrDown = errors.New("the system service is not running")
)

// UpgradeRequest asks for an upgrade from a bundle's URL.
type UpgradeRequest struct {
	URL string `json:"url"`
}

// CheckUpgradeURL refuses what cannot be a bundle's address: an empty
// URL, one longer than MaxURL, one that is not http:// or https:// or
// has no host. Every way into an upgrade checks it before anything is
// asked or fetched.
func CheckUpgradeURL(raw string) (*url.URL, error) {
	const example = "give the bundle's address, such as http://host/vxway-<version>.vxu"
	if raw == "" {
		return nil, fmt.Errorf("the URL is missing: %s", example)
	}
	if len(raw) > MaxURL {
		return nil, fmt.Errorf("the URL is %d bytes long, at most %d are accepted", len(raw), MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URL %q is not an http:// or https:// URL: give an http:// or https:// URL of a .vxu bundle", RedactURL(raw))
	}
	return u, nil
}

// RedactURL is url as logs and pages show it: a password in it is
// replaced by "xxxxx".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}

// UpgradeResult is what an upgrade installed.
type UpgradeResult struct {
	Version string `json:"version"`
	Slot    string `json:"slot"`
}

// BackupCreateRequest asks for a backup encrypted with Password.
type BackupCreateRequest struct {
	Password string `json:"password"`
}

// BackupMade is the archive a backup wrote.
type BackupMade struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Files int    `json:"files"`
}

// BackupRestoreRequest asks to check the archive File (a name in the
// backup directory) and stage it for the next boot.
type BackupRestoreRequest struct {
	File     string `json:"file"`
	Password string `json:"password"`
}

// RestoreStaged is what a staged restore came from.
type RestoreStaged struct {
	Archive         string    `json:"archive"`
	Serial          string    `json:"serial"`
	SoftwareVersion string    `json:"software_version"`
	Created         time.Time `json:"created"`
	SameDevice      bool      `json:"same_device"`
}

// BackupStatus is what xstatus Backup shows, in package backup's
// encoding (backup.Status).
type BackupStatus = json.RawMessage

// Event is one line of an answer: progress, then a result (one of the
// result types above) or an error.
type Event struct {
	Progress string          `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Done     bool            `json:"done,omitempty"`
	Error    string          `json:"error,omitempty"`
	Code     string          `json:"code,omitempty"`
}

// Err turns an error event into an error wrapping the sentinel of its
// code; nil for any other event.
func (e Event) Err() error {
	if e.Error == "" && e.Code == "" {
		return nil
	}
	msg := e.Error
	if msg == "" {
		msg = "no reason given"
	}
	switch e.Code {
	case CodeNotPermitted:
		return fmt.Errorf("%w: %s", ErrNotPermitted, msg)
	case CodeBusy:
		return fmt.Errorf("%w: %s", ErrBusy, msg)
	case CodeBadRequest:
		return fmt.Errorf("%w: %s", ErrBadRequest, msg)
	}
	return errors.New(msg)
}

// Client talks to the system service on its socket.
type Client struct {
	api *unixhttp.Client
}

// NewClient returns a client of the service listening on socket. An
// answer streams while the operation runs, so only its header is waited
// for with a bound.
func NewClient(socket string) *Client {
	return &Client{api: unixhttp.New(socket, unixhttp.Options{
		Host:          "system",
		Name:          "the system service",
		Down:          ErrDown,
		HeaderTimeout: 30 * time.Second,
	})}
}

// Upgrade asks the service to download the bundle at url, check it and
// write it into the other slot. Progress, when set, gets each progress
// line. Once the result is back the service restarts the device (when
// the connection closes, so the answer reaches the admin first).
func (c *Client) Upgrade(ctx context.Context, url string, progress func(string)) (UpgradeResult, error) {
	var res UpgradeResult
	err := c.call(ctx, RouteUpgrade, UpgradeRequest{URL: url}, progress, &res)
	if err == nil && res.Version == "" {
		err = errors.New("the system service answered without a result")
	}
	return res, err
}

// BackupCreate asks the service to write a backup encrypted with
// password (it reads root's files, such as the SSH host key).
func (c *Client) BackupCreate(ctx context.Context, password string) (BackupMade, error) {
	var res BackupMade
	err := c.call(ctx, RouteBackupCreate, BackupCreateRequest{Password: password}, nil, &res)
	if err == nil && res.Path == "" {
		err = errors.New("the system service answered without a result")
	}
	return res, err
}

// BackupRestore asks the service to check the archive file and stage it
// for the next boot. It does not restart the device (Reboot does).
func (c *Client) BackupRestore(ctx context.Context, file, password string) (RestoreStaged, error) {
	var res RestoreStaged
	err := c.call(ctx, RouteBackupRestore, BackupRestoreRequest{File: file, Password: password}, nil, &res)
	if err == nil && res.Archive == "" {
		err = errors.New("the system service answered without a result")
	}
	return res, err
}

// Reboot asks the service to restart the device cleanly.
func (c *Client) Reboot(ctx context.Context) error {
	return c.call(ctx, RouteReboot, struct{}{}, nil, nil)
}

// BackupStatus asks the service for the backup directory's archives and
// the restore's records (root's files), as package backup encodes them.
func (c *Client) BackupStatus(ctx context.Context) (BackupStatus, error) {
	var res json.RawMessage
	err := c.call(ctx, RouteBackupStatus, struct{}{}, nil, &res)
	if err == nil && len(res) == 0 {
		err = errors.New("the system service answered without a result")
	}
	return res, err
}

// call posts body to route and reads the answer's events, which end with
// one marked Done or an error: progress lines go to progress, a result
// is decoded into result.
func (c *Client) call(ctx context.Context, route string, body any, progress func(string), result any) error {
	resp, err := c.api.Send(ctx, http.MethodPost, route, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, MaxLine*MaxEvents))
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	for n := 0; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("reading the system service's answer: %w", err)
		}
		if err := e.Err(); err != nil {
			return err
		}
		if e.Progress != "" && progress != nil {
			progress(e.Progress)
		}
		if len(e.Result) > 0 && result != nil {
			if err := json.Unmarshal(e.Result, result); err != nil {
				return fmt.Errorf("reading the system service's result: %w", err)
			}
		}
		if e.Done {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the system service's answer: %w", err)
	}
	return fmt.Errorf("the system service ended its answer early (HTTP %s)", resp.Status)
}
