package unixhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var errDown = errors.New("the test service is not running")

// serve runs h on a unix socket in a temporary directory and returns
// the socket's path.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func client(sock string) *Client {
	return New(sock, Options{Host: "test", Name: "the test service", Down: errDown, Timeout: time.Minute, MaxAnswer: 64})
}

type code struct {
	Code string `json:"code"`
}

func TestCall(t *testing.T) {
	sock := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			if r.Host != "test" || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "host "+r.Host+", type "+r.Header.Get("Content-Type"), http.StatusBadRequest)
				return
			}
			w.Write(b)
		case "/empty":
			if len(b) != 0 {
				http.Error(w, "a body came: "+string(b), http.StatusBadRequest)
			}
		case "/refuse":
			http.Error(w, `{"error":"no"}`, http.StatusConflict)
		case "/large":
			w.Write([]byte(`{"code":"` + strings.Repeat("x", 100) + `"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	c := client(sock)
	ctx := context.Background()

	t.Run("answer decoded, XML kept as it is", func(t *testing.T) {
		var got code
		if err := c.Call(ctx, http.MethodPost, "/echo", code{Code: "<a>&</a>"}, &got); err != nil {
			t.Fatal(err)
		}
		if got.Code != "<a>&</a>" {
			t.Errorf("echoed %q", got.Code)
		}
		resp, err := c.Send(ctx, http.MethodPost, "/echo", code{Code: "<a>"})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), `"<a>"`) {
			t.Errorf("body sent %s, want < unescaped", b)
		}
	})
	t.Run("no body", func(t *testing.T) {
		if err := c.Call(ctx, http.MethodPost, "/empty", nil, nil); err != nil {
			t.Error(err)
		}
	})
	t.Run("refusal", func(t *testing.T) {
		err := c.Call(ctx, http.MethodPut, "/refuse", code{}, nil)
		var se *StatusError
		if !errors.As(err, &se) {
			t.Fatalf("error %v, want a *StatusError", err)
		}
		var e struct{ Error string }
		if se.Code != http.StatusConflict || json.Unmarshal(se.Body, &e) != nil || e.Error != "no" {
			t.Errorf("status error %+v", se)
		}
		if want := `the test service answered 409 Conflict to /refuse: {"error":"no"}`; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
		if errors.Is(err, errDown) {
			t.Errorf("a refusal %v wraps Down", err)
		}
	})
	t.Run("answer over the bound", func(t *testing.T) {
		var got code
		if err := c.Call(ctx, http.MethodGet, "/large", nil, &got); err == nil {
			t.Errorf("an answer over MaxAnswer decoded to %q", got.Code)
		}
	})
}

// TestDown: a request that gets no answer wraps the caller's sentinel and
// names the socket.
func TestDown(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	hung := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stuck }))
	for _, tc := range []struct {
		name string
		c    *Client
	}{
		{"nothing on the socket", client(filepath.Join(t.TempDir(), "none.sock"))},
		{"no answer header", New(hung, Options{Host: "test", Down: errDown, HeaderTimeout: time.Millisecond})},
		{"no whole answer", New(hung, Options{Host: "test", Down: errDown, Timeout: time.Millisecond})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Call(context.Background(), http.MethodGet, "/x", nil, nil)
			if !errors.Is(err, errDown) || !strings.Contains(err.Error(), tc.c.Socket()) {
				t.Errorf("error %v, want one wrapping Down and naming the socket", err)
			}
		})
	}
}
