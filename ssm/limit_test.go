package ssm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"vxway/testsupport"

	"vxway/clock"
	"vxway/licproto"
)

// countIn counts sub in what w holds.
func countIn(w fmt.Stringer, sub string) int { return strings.Count(w.String(), sub) }

// TestRateLimit: one source gets its burst of requests and TLS
// handshakes, then 429 answers (unsigned: no signature spent) and refused
// handshakes until the clock has moved on.
func TestRateLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	must(t, InitDir(dir, []string{"localhost", "127.0.0.1"}, t0))
	logs := &testsupport.SyncBuffer{}
	m := startManagerWith(t, ServeOptions{Dir: dir, Mode: ModeOnPrem, RateLimit: 1, Log: slog.New(slog.NewTextHandler(logs, nil))})
	post := func() int {
		resp, err := m.http.Post(m.url, "application/json", strings.NewReader("{}"))
		must(t, err)
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	count := func(n int) (passed int) {
		for range n {
			if post() != http.StatusTooManyRequests {
				passed++
			}
		}
		return passed
	}
	// A burst of 10: one handshake and nine requests.
	if got := count(20); got != 9 {
		t.Errorf("%d requests passed in the first burst, want 9", got)
	}
	pool := x509.NewCertPool()
	pool.AddCert(mustPKI(t, dir).CA)
	if c, err := tls.Dial("tcp", strings.TrimPrefix(m.base, "https://"), &tls.Config{RootCAs: pool}); err == nil {
		c.Close()
		t.Errorf("a new handshake from the limited source succeeded")
	}
	m.clock.Advance(5 * time.Second)
	if got := count(10); got != 5 {
		t.Errorf("%d requests passed five seconds later, want 5", got)
	}
	if n := countIn(logs, "too many from this address"); n == 0 || n > logBurst {
		t.Errorf("%d log lines for %d limited requests, want 1..%d:\n%s", n, 16, logBurst, logs.String())
	}
}

func mustPKI(t *testing.T, dir string) *PKI {
	t.Helper()
	p, err := LoadPKI(dir)
	must(t, err)
	return p
}

func TestLimiterTable(t *testing.T) {
	clk := clock.NewFake(t0)
	l := newLimiter(1, 2, clk)
	l.max = 2
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.3")
	for _, tc := range []struct {
		name string
		addr netip.Addr
		want bool
	}{
		{"a first", a, true},
		{"a second", a, true},
		{"a over its burst", a, false},
		{"same /64 as b", netip.MustParseAddr("2001:db8::2"), true},
		{"b shares it", b, true},
		{"b over", b, false},
		{"c in the overflow bucket", c, true},
		{"c again", c, true},
		{"overflow bucket empty", netip.MustParseAddr("192.0.2.4"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.allow(tc.addr); got != tc.want {
				t.Errorf("allow(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
	// Once a and b have refilled they are dropped and c gets a bucket.
	clk.Advance(3 * time.Second)
	if !l.allow(c) || len(l.sources) != 1 {
		t.Errorf("after a sweep: %d sources", len(l.sources))
	}
}

// TestRefusalLogSampled: a flood of refused requests writes a bounded
// number of log lines, and the next line written says how many were
// left out.
func TestRefusalLogSampled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	must(t, InitDir(dir, []string{"localhost"}, t0))
	store, err := OpenStore(context.Background(), filepath.Join(dir, DBFile))
	must(t, err)
	t.Cleanup(func() { store.Close() })
	logs := &testsupport.SyncBuffer{}
	clk := clock.NewFake(t0)
	m, err := NewManager(store, mustPKI(t, dir), clk, slog.New(slog.NewTextHandler(logs, nil)))
	must(t, err)
	for range 100 {
		m.Handle(context.Background(), []byte(`{"version":1}`))
	}
	if n := countIn(logs, "request refused"); n != logBurst {
		t.Errorf("%d lines for 100 refusals, want %d", n, logBurst)
	}
	clk.Advance(time.Second)
	m.Handle(context.Background(), []byte(`{"version":1}`))
	if !strings.Contains(logs.String(), "suppressed=80") {
		t.Errorf("the next line does not count the 80 left out:\n%s", logs.String())
	}
}

// TestTLSHandshakeLogSampled: failed TLS handshakes (the server's error
// log) are sampled the same way.
func TestTLSHandshakeLogSampled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	must(t, InitDir(dir, []string{"localhost", "127.0.0.1"}, t0))
	logs := &testsupport.SyncBuffer{}
	m := startManagerWith(t, ServeOptions{Dir: dir, Mode: ModeOnPrem, RateLimit: -1, Log: slog.New(slog.NewTextHandler(logs, nil))})
	addr := strings.TrimPrefix(m.base, "https://")
	junk := func() {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		defer c.Close()
		c.Write(bytes.Repeat([]byte{0}, 16))
		// The server logs the failure before it closes the connection.
		io.Copy(io.Discard, c)
	}
	for range 50 {
		junk()
	}
	if n := countIn(logs, "TLS handshake error"); n != logBurst {
		t.Errorf("%d lines for 50 failed handshakes, want %d", n, logBurst)
	}
	m.clock.Advance(time.Second)
	junk()
	if !regexp.MustCompile(`TLS handshake error.* suppressed=30`).MatchString(logs.String()) {
		t.Errorf("the next line does not count the 30 left out:\n%s", logs.String())
	}
}

// TestRegisterNonceAfterToken: a register request with a token the
// manager does not know leaves no nonce behind (a stranger cannot fill
// the replay guard): sent again, it is refused for its token again.
func TestRegisterNonceAfterToken(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	d := m.device("0000C001")
	req, err := licproto.NewRequest(licproto.TypeRegister, d.udi, &licproto.RegisterPayload{Token: "NoSuchTokenAtAllXXXXXXXXXXXXXXX", PublicKey: d.pub()}, t0, d.key)
	must(t, err)
	body, _ := req.Marshal()
	for i := range 2 {
		resp, err := m.http.Post(m.url, "application/json", bytes.NewReader(body))
		must(t, err)
		ab, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v, err := m.verify.Verify(req, ab, t0, 0)
		must(t, err)
		if !errors.Is(v.Err(), licproto.ErrUnknownToken) {
			t.Errorf("send %d: %v, want unknown_token", i+1, v.Err())
		}
	}
}
