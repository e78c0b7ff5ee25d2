// Package syssvc is init's system service: the operations that need root
// (installing an upgrade, restarting the device) served on a unix socket
// to root and the admin account only, each peer checked by the kernel's
// record of its user id (SO_PEERCRED). The admin account's xAPI shell
// runs unprivileged and asks it through package sysclient, which owns the
// socket's path and the wire format.
package syssvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"vxway/peercred"
	"vxway/platform"
	"vxway/sysclient"
)

// Bounds of the server.
const (
	// MaxConns is how many connections are served at once; more wait in
	// the kernel's backlog.
	MaxConns = 4
	// headerTimeout bounds reading a request's headers, bodyTimeout its
	// body (a few bytes of JSON).
	headerTimeout = 5 * time.Second
	bodyTimeout   = 5 * time.Second
	// UpgradeTimeout bounds a whole upgrade: download, checks and write.
	UpgradeTimeout = 20 * time.Minute
	// RebootGrace is how long a reboot waits for the client to close the
	// connection after the answer (so that the admin sees it first).
	RebootGrace = 5 * time.Second
)

// Check is the service's policy, a function of the peer's user id alone:
// nil for root and the admin account (platform.UIDAdmin), else an error
// wrapping sysclient.ErrNotPermitted that says what to do.
func Check(uid uint32) error {
	if uid == 0 || uid == platform.UIDAdmin {
		return nil
	}
	return fmt.Errorf("%w: user id %d may not upgrade or restart the device: only root and the admin account may; log in as admin", sysclient.ErrNotPermitted, uid)
}

// Ops are the privileged operations: init's on the device, fakes in tests.
type Ops interface {
	// Upgrade downloads the bundle at url, checks it and writes it into
	// the slot that is not running, writing progress lines to log. It
	// does not restart the device.
	Upgrade(ctx context.Context, url string, log io.Writer) (sysclient.UpgradeResult, error)
	// Reboot asks for a clean restart of the device.
	Reboot() error
	// BackupCreate writes a backup encrypted with password.
	BackupCreate(ctx context.Context, password string) (sysclient.BackupMade, error)
	// BackupRestore checks an archive and stages it for the next boot.
	BackupRestore(ctx context.Context, file, password string) (sysclient.RestoreStaged, error)
	// BackupStatus reads the backups and the restore's records.
	BackupStatus(ctx context.Context) (sysclient.BackupStatus, error)
}

// Server serves Ops on a unix socket.
type Server struct {
	Ops Ops
	// Log gets a line for each request and each refusal (init's console).
	Log io.Writer
	// Allow is the policy; Check when nil.
	Allow func(uid uint32) error
	// Grace is how long a reboot waits for the client to hang up;
	// RebootGrace when zero.
	Grace time.Duration

	// busy is held by the running operation: one at a time.
	busy sync.Mutex
}

// Listen makes the socket at path (replacing a stale one) with mode 0660,
// owned by root and group gid (gid < 0: left as made, for tests).
func Listen(path string, gid int) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the old socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, 0, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("giving %s to group %d: %w", path, gid, err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	return l, nil
}

// Serve answers requests on l until l is closed.
func (s *Server) Serve(l net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ConnContext:       withPeer,
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	return srv.Serve(&peerListener{Listener: l, slots: make(chan struct{}, MaxConns)})
}

// peerListener accepts at most cap(slots) connections at once and reads
// each peer's credentials as it accepts it.
type peerListener struct {
	net.Listener
	slots chan struct{}
}

func (l *peerListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	uid, perr := peercred.UID(c)
	return &peerConn{Conn: c, peer: peer{uid: uid, err: perr}, release: func() { <-l.slots }}, nil
}

// peerConn is an accepted connection with its peer.
type peerConn struct {
	net.Conn
	peer    peer
	once    sync.Once
	release func()
}

func (c *peerConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

type peerKey struct{}

type peer struct {
	uid uint32
	err error
}

func withPeer(ctx context.Context, c net.Conn) context.Context {
	p := peer{err: peercred.ErrUnknown}
	if pc, ok := c.(*peerConn); ok {
		p = pc.peer
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "system: "+format+"\n", args...)
	}
}

func (s *Server) allow(uid uint32) error {
	if s.Allow != nil {
		return s.Allow(uid)
	}
	return Check(uid)
}

// ServeHTTP checks the peer, then runs the named operation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := r.Context().Value(peerKey{}).(peer)
	if !ok {
		p.err = peercred.ErrUnknown
	}
	err := p.err
	if err == nil {
		err = s.allow(p.uid)
	}
	if err != nil {
		s.logf("refused %s from user id %d: %v", r.URL.Path, p.uid, err)
		refuse(w, http.StatusForbidden, sysclient.CodeNotPermitted, err)
		return
	}
	if r.Method != http.MethodPost {
		refuse(w, http.StatusMethodNotAllowed, sysclient.CodeBadRequest, fmt.Errorf("use POST"))
		return
	}
	switch r.URL.Path {
	case sysclient.RouteUpgrade:
		s.upgrade(w, r, p.uid)
	case sysclient.RouteReboot:
		s.reboot(w, r, p.uid)
	case sysclient.RouteBackupCreate:
		var req sysclient.BackupCreateRequest
		s.once(w, r, p.uid, "backup", &req, func(ctx context.Context) (any, error) { return s.Ops.BackupCreate(ctx, req.Password) })
	case sysclient.RouteBackupRestore:
		var req sysclient.BackupRestoreRequest
		s.once(w, r, p.uid, "restore", &req, func(ctx context.Context) (any, error) {
			return s.Ops.BackupRestore(ctx, req.File, req.Password)
		})
	case sysclient.RouteBackupStatus:
		var req struct{}
		s.read(w, r, &req, func(ctx context.Context) (any, error) { return s.Ops.BackupStatus(ctx) })
	default:
		refuse(w, http.StatusNotFound, sysclient.CodeBadRequest, fmt.Errorf("no operation %q; the operations are %s, %s, %s and %s", r.URL.Path, sysclient.RouteUpgrade, sysclient.RouteReboot, sysclient.RouteBackupCreate, sysclient.RouteBackupRestore))
	}
}

// readBody decodes the request's JSON body into v, bounded in size and
// time; unknown fields are an error.
func readBody(w http.ResponseWriter, r *http.Request, v any) error {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout))
	defer rc.SetReadDeadline(time.Time{})
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, sysclient.MaxRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: reading the request: %w", sysclient.ErrBadRequest, err)
	}
	return nil
}

func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, uid uint32) {
	var req sysclient.UpgradeRequest
	if err := readBody(w, r, &req); err != nil {
		refuse(w, http.StatusBadRequest, sysclient.CodeBadRequest, err)
		return
	}
	if _, err := sysclient.CheckUpgradeURL(req.URL); err != nil {
		refuse(w, http.StatusBadRequest, sysclient.CodeBadRequest, err)
		return
	}
	if !s.busy.TryLock() {
		refuse(w, http.StatusConflict, sysclient.CodeBusy, fmt.Errorf("another upgrade or a restart is under way; try again when it is done"))
		return
	}
	// A failed upgrade frees the service before its answer goes out, so
	// the client's next request is not refused as busy.
	done := sync.OnceFunc(s.busy.Unlock)
	defer done()
	s.logf("upgrade from %q asked by user id %d", sysclient.RedactURL(req.URL), uid)
	ev := newEvents(w)
	ctx, cancel := context.WithTimeout(r.Context(), UpgradeTimeout)
	res, err := s.Ops.Upgrade(ctx, req.URL, &progress{ev: ev})
	cancel()
	if err != nil {
		s.logf("upgrade from %q: %v", sysclient.RedactURL(req.URL), err)
		done()
		ev.send(sysclient.Event{Error: cut(err.Error()), Code: sysclient.CodeFailed})
		return
	}
	ev.sendResult(res)
	s.restart(r)
}

// read runs op, which only looks, beside any other operation.
func (s *Server) read(w http.ResponseWriter, r *http.Request, req any, op func(context.Context) (any, error)) {
	if err := readBody(w, r, req); err != nil {
		refuse(w, http.StatusBadRequest, sysclient.CodeBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	res, err := op(ctx)
	ev := newEvents(w)
	if err != nil {
		ev.send(sysclient.Event{Error: cut(err.Error()), Code: sysclient.CodeFailed})
		return
	}
	ev.sendResult(res)
}

// BackupTimeout bounds a backup or a restore's checks.
const BackupTimeout = 5 * time.Minute

// once runs one operation that needs no restart: the body into req, then
// op, whose result is the answer. Nothing of the body (it holds
// passwords) is logged.
func (s *Server) once(w http.ResponseWriter, r *http.Request, uid uint32, what string, req any, op func(context.Context) (any, error)) {
	if err := readBody(w, r, req); err != nil {
		refuse(w, http.StatusBadRequest, sysclient.CodeBadRequest, err)
		return
	}
	if !s.busy.TryLock() {
		refuse(w, http.StatusConflict, sysclient.CodeBusy, fmt.Errorf("another operation (an upgrade, a backup or a restart) is under way; try again when it is done"))
		return
	}
	done := sync.OnceFunc(s.busy.Unlock)
	defer done()
	s.logf("%s asked by user id %d", what, uid)
	ctx, cancel := context.WithTimeout(r.Context(), BackupTimeout)
	defer cancel()
	res, err := op(ctx)
	// Free the service before the answer goes out, so the client's next
	// request (the restart after a restore) is not refused as busy.
	done()
	ev := newEvents(w)
	if err != nil {
		s.logf("%s: %v", what, err)
		ev.send(sysclient.Event{Error: cut(err.Error()), Code: sysclient.CodeFailed})
		return
	}
	ev.sendResult(res)
}

func (s *Server) reboot(w http.ResponseWriter, r *http.Request, uid uint32) {
	var req struct{}
	if err := readBody(w, r, &req); err != nil {
		refuse(w, http.StatusBadRequest, sysclient.CodeBadRequest, err)
		return
	}
	if !s.busy.TryLock() {
		refuse(w, http.StatusConflict, sysclient.CodeBusy, fmt.Errorf("an upgrade is under way; it restarts the device when it is done"))
		return
	}
	defer s.busy.Unlock()
	s.logf("restart asked by user id %d", uid)
	newEvents(w).send(sysclient.Event{Done: true})
	s.restart(r)
}

// restart waits for the client to hang up (at most the grace period), so
// that the answer reaches the admin, then reboots.
func (s *Server) restart(r *http.Request) {
	grace := s.Grace
	if grace <= 0 {
		grace = RebootGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
	if err := s.Ops.Reboot(); err != nil {
		s.logf("restarting: %v", err)
	}
}

// refuse answers a request that changed nothing with one error event.
func refuse(w http.ResponseWriter, status int, code string, err error) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(status)
	b, _ := json.Marshal(sysclient.Event{Error: cut(err.Error()), Code: code})
	w.Write(append(b, '\n'))
}

// events writes an answer's events, one JSON line each, flushed at once.
type events struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newEvents(w http.ResponseWriter) *events {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// The client's wait for the headers ends here, not at the first line.
	_ = rc.Flush()
	return &events{w: w, rc: rc}
}

// sendResult sends res as the result, then the end of the answer.
func (e *events) sendResult(res any) {
	b, err := json.Marshal(res)
	if err != nil {
		e.send(sysclient.Event{Error: fmt.Sprintf("encoding the result: %v", err), Code: sysclient.CodeFailed})
		return
	}
	e.send(sysclient.Event{Result: b})
	e.send(sysclient.Event{Done: true})
}

func (e *events) send(ev sysclient.Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// A client gone does not stop the operation's own bookkeeping.
	_, _ = e.w.Write(append(b, '\n'))
	_ = e.rc.Flush()
}

// progress turns the lines written to it into progress events; a line
// longer than fits in an event is cut.
type progress struct {
	ev  *events
	buf []byte
}

func (p *progress) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		line := string(p.buf[:i])
		p.buf = p.buf[i+1:]
		p.ev.send(sysclient.Event{Progress: cut(line)})
	}
	if len(p.buf) > sysclient.MaxLine {
		p.buf = p.buf[:0]
	}
	return len(b), nil
}

// maxText is the longest text an event carries: JSON escaping may grow
// it sixfold and the line must stay within sysclient.MaxLine.
const maxText = sysclient.MaxLine / 8

// cut shortens s to maxText bytes.
func cut(s string) string {
	if len(s) > maxText {
		return s[:maxText] + "..."
	}
	return s
}
