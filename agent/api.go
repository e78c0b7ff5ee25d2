package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"vxway/agentclient"
)

// maxRequestBody caps a local API request body.
const maxRequestBody = 64 << 10

// handler is the local API: JSON over HTTP, served on the unix socket.
func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		a.SyncEnabled()
		reply(w, a.Status(), nil)
	})
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, r *http.Request) { reply(w, a.Config(), nil) })
	mux.HandleFunc("PUT /v1/config", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.ConfigChange
		if !decode(w, r, &c) {
			return
		}
		cfg, err := a.SetConfig(c.Leaf, c.Value)
		reply(w, cfg, err)
	})
	mux.HandleFunc("POST /v1/enable", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, a.Enable()) })
	mux.HandleFunc("POST /v1/register", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.RegisterCall
		if !decode(w, r, &c) {
			return
		}
		a.SyncEnabled()
		err := a.Register(c.Token, c.Reregister)
		reply(w, a.Status(), err)
	})
	mux.HandleFunc("POST /v1/deregister", func(w http.ResponseWriter, r *http.Request) {
		warn, err := a.Deregister()
		reply(w, agentclient.DeregisterResult{Warning: warn}, err)
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
		var c agentclient.UsageCall
		if !decode(w, r, &c) {
			return
		}
		reply(w, nil, a.SetUsage(c.Type, c.Count))
	})
	mux.HandleFunc("PUT /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.SessionsCall
		if !decode(w, r, &c) {
			return
		}
		st, err := a.SetSessions(c.Encrypted, c.WebRTC)
		reply(w, st, err)
	})
	mux.HandleFunc("PUT /v1/real-usage", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.RealUsage
		if !decode(w, r, &c) {
			return
		}
		ans, err := a.ReportUsage(c)
		reply(w, ans, err)
	})
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, r *http.Request) { reply(w, a.Cluster(), nil) })
	mux.HandleFunc("PUT /v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.ClusterChange
		if !decode(w, r, &c) {
			return
		}
		ci, err := a.SetCluster(c.Leaf, c.Value)
		reply(w, ci, err)
	})
	a.reservationRoutes(mux)
	a.admissionRoutes(mux)
	a.backupRoutes(mux)
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeLimit(w, r, v, maxRequestBody)
}

func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		reply(w, nil, fmt.Errorf("%w: request body: %v", agentclient.ErrInvalidConfig, err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		e, status := agentclient.AnswerFor(err)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(e)
		return
	}
	if v == nil {
		v = struct{}{}
	}
	json.NewEncoder(w).Encode(v)
}

// Listen opens the local API socket (replacing a stale one), readable and
// writable by the agent's user and group: on the device the admin shell's
// user is in the agent's group, root connects anyway, and others cannot.
// ServeHandler checks each peer's user id on top.
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
	if err := os.Chmod(socket, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("opening %s to the agent's group: %w", socket, err)
	}
	return ln, nil
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
	l.h = a.handler()
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
		json.NewEncoder(w).Encode(agentclient.ErrorAnswer{Error: "the Smart Licensing agent could not start: " + l.err.Error(), Code: agentclient.CodeFailed})
		return
	}
	l.h.ServeHTTP(w, r)
}

// ServeHandler serves h on ln until ctx ends, to the peers p lets make each
// request (ln is a unix socket listener: the peer's user id comes from the
// kernel).
func ServeHandler(ctx context.Context, ln net.Listener, h http.Handler, p Policy) error {
	srv := &http.Server{Handler: p.Guard(h), ConnContext: withPeer, ReadHeaderTimeout: 10 * time.Second}
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
