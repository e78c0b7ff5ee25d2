package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/licproto"
	"vxway/platform"
	"vxway/ssm"
)

// The agent against the real manager (package ssm, in this process, over
// HTTPS on 127.0.0.1) with two fake clocks: the manager's and the
// device's, which may be wrong by a season.

// mgrNow is the manager's (true) time in these tests.
var mgrNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// realManager is an ssm manager served on loopback. Its agent endpoint can
// be told to answer the next request with the answer it gave last (a
// replayed answer).
type realManager struct {
	t     *testing.T
	clk   *clock.Fake
	store *ssm.Store
	url   string
	ca    []byte

	mu         sync.Mutex
	last       []byte
	replayNext bool
	down       bool
	requests   int
}

func startRealManager(t *testing.T) *realManager {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ssm")
	// The manager was set up a day before the tests' time.
	if err := ssm.InitDir(dir, []string{"127.0.0.1"}, mgrNow.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	pki, err := ssm.LoadPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := ssm.OpenStore(ctx, ssm.DBPath(dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := clock.NewFake(mgrNow)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(store.CreateAccount(ctx, "Acme", mgrNow))
	must(store.CreateVA(ctx, "Acme", "Sales", mgrNow))
	must(store.AddLicenses(ctx, "Sales", licproto.RMS, 10))
	m, err := ssm.NewManager(store, pki, clk, nil)
	must(err)
	rs, err := ssm.NewReservations(store, pki)
	must(err)
	rm := &realManager{t: t, clk: clk, store: store}
	rm.ca, err = os.ReadFile(filepath.Join(dir, ssm.CACertFile))
	must(err)
	inner := ssm.Handler(m, ssm.NewAdmin(store, rs, pki.AdminToken, clk), licproto.OnPremPath)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rm.isDown() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		rm.mu.Lock()
		body := rec.Body.Bytes()
		rm.requests++
		if rm.replayNext && rm.last != nil {
			body, rm.replayNext = rm.last, false
		} else {
			rm.last = body
		}
		rm.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Server}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rm.url = srv.URL + licproto.OnPremPath
	return rm
}

func (rm *realManager) token() string {
	rm.t.Helper()
	tok, _, err := rm.store.CreateToken(context.Background(), "Sales", ssm.TokenOptions{ExpiresDays: 365, ExportControlled: true}, rm.clk.Now())
	if err != nil {
		rm.t.Fatal(err)
	}
	return tok
}

// replayLastAnswer makes the next request get the last answer again.
func (rm *realManager) replayLastAnswer() {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.replayNext = true
}

func (rm *realManager) setDown(down bool) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.down = down
}

func (rm *realManager) isDown() bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.down
}

func (rm *realManager) count() int {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.requests
}

// wrongClockDevice is an Expressway whose image was built 12 hours before
// the manager's time and whose clock shows mgrNow+off, with the agent on
// the real HTTPS transport to rm.
// retry is the retry interval (RetryEvery when 0).
func wrongClockDevice(t *testing.T, rm *realManager, off, retry time.Duration) (*Agent, *clock.Fake, string) {
	t.Helper()
	root := expresswayRoot(t)
	if err := platform.WriteImageInfo(root, &platform.ImageInfo{SoftwareVersion: "X14.2", BuildTime: mgrNow.Add(-12 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, platform.TrustDir, "ca.pem")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, rm.ca, 0o644); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(mgrNow.Add(off))
	a := startAgent(t, root, clk, retry)
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	for leaf, v := range map[string]string{agentclient.LeafMode: "OnPrem", agentclient.LeafURL: rm.url} {
		if _, err := a.SetConfig(leaf, v); err != nil {
			t.Fatal(err)
		}
	}
	return a, clk, root
}

func startAgent(t *testing.T, root string, clk clock.Clock, retry time.Duration) *Agent {
	t.Helper()
	a, err := New(Options{Root: root, Clock: clk, Timeout: 10 * time.Second, RetryEvery: retry,
		Hostname: func() string { return "vx1.example.com" }, IP: func() string { return "192.0.2.10" }})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(a.Close)
	return a
}

// advance moves the manager's and the device's clocks on together.
func advance(rm *realManager, dev *clock.Fake, d time.Duration) {
	rm.clk.Advance(d)
	dev.Advance(d)
}

// registered registers a and reports 2 Rich Media Sessions in use.
func registered(t *testing.T, rm *realManager, a *Agent) {
	t.Helper()
	if err := a.Register(rm.token(), false); err != nil {
		t.Fatalf("register: %v", err)
	}
	if err := a.SetUsage(agentclient.TypeRMS, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.RenewAuthorization(); err != nil {
		t.Fatalf("renew authorization: %v", err)
	}
}

// TestWrongClockRegistersAndRenews: a device whose clock is a season
// ahead of or behind the manager's registers and renews on the first try
// (no request refused, none sent twice), shows the offset, raises alarm
// 30049, and renews on the manager's schedule.
func TestWrongClockRegistersAndRenews(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  time.Duration
	}{
		{"ahead 100 days", 100 * day},
		{"behind 100 days", -100 * day},
		{"right", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rm := startRealManager(t)
			a, clk, root := wrongClockDevice(t, rm, tc.off, 0)
			registered(t, rm, a)
			if err := a.RenewRegistration(); err != nil {
				t.Fatalf("renew registration: %v", err)
			}
			// register, the authorization that follows it, the renewals.
			if n := rm.count(); n != 4 {
				t.Errorf("%d requests reached the manager, want 4 (each on the first try)", n)
			}
			s := a.Status()
			if s.Registration != agentclient.RegRegistered || s.Authorization != agentclient.AuthAuthorized {
				t.Fatalf("status %q / %q (%s)", s.Registration, s.Authorization, s.FailureReason)
			}
			if s.TimeSource != agentclient.TimeManager || (s.Skew+tc.off).Abs() > time.Second {
				t.Errorf("time source %q offset %s, want Manager and %s", s.TimeSource, s.Skew, -tc.off)
			}
			if raised := slices.Contains(diskAlarms(t, root), AlarmClockOffset); raised != (tc.off != 0) {
				t.Errorf("alarm 30049 raised %v with the clock off by %s", raised, tc.off)
			}
			// The 30-day renewal comes on the manager's schedule.
			last := s.AuthorizationLast
			advance(rm, clk, 30*day+time.Minute)
			s = a.Status()
			if !s.AuthorizationLast.After(last) || s.Authorization != agentclient.AuthAuthorized || s.FailureReason != "" {
				t.Errorf("30 days on: last authorization %s (was %s), status %q, failure %q", s.AuthorizationLast, last, s.Authorization, s.FailureReason)
			}
		})
	}
}

// TestClockTurnedBackCannotExtendAuthorization: with the manager out of
// reach, turning the device's clock back does not move the end of the
// authorization, which counts 90 days of the manager's time since its
// last answer.
func TestClockTurnedBackCannotExtendAuthorization(t *testing.T) {
	rm := startRealManager(t)
	a, clk, root := wrongClockDevice(t, rm, 100*day, day)
	registered(t, rm, a)
	rm.setDown(true)
	clk.Set(clk.Now().Add(-80 * day)) // the clock turned back: no time passes
	clk.Advance(90*day - time.Hour)
	if s := a.Status(); s.Authorization != agentclient.AuthAuthorized {
		t.Fatalf("an hour before the 90 days: %q", s.Authorization)
	}
	clk.Advance(time.Hour)
	s := a.Status()
	if s.Authorization != agentclient.AuthExpired || !slices.Contains(diskAlarms(t, root), AlarmAuthExpiredInUse) {
		t.Errorf("90 days of manager time after the last answer, clock turned back 80 days: %q, alarms %v", s.Authorization, diskAlarms(t, root))
	}
}

// TestReplayedAnswerRefused: an answer replayed to a later request (an
// attacker on the path holding the manager's earlier answer) is refused:
// it neither renews the authorization nor moves the device's time.
func TestReplayedAnswerRefused(t *testing.T) {
	rm := startRealManager(t)
	a, clk, _ := wrongClockDevice(t, rm, -100*day, 0)
	registered(t, rm, a)
	before := a.Status()
	advance(rm, clk, 10*day)
	rm.replayLastAnswer()
	if err := a.RenewAuthorization(); err == nil || !strings.Contains(err.Error(), "does not belong to this request") {
		t.Fatalf("renewal answered with a replayed answer: %v", err)
	}
	s := a.Status()
	if !s.AuthorizationLast.Equal(before.AuthorizationLast) || (s.Skew-before.Skew).Abs() > time.Second {
		t.Errorf("the replayed answer moved the last authorization (%s, was %s) or the offset (%s, was %s)",
			s.AuthorizationLast, before.AuthorizationLast, s.Skew, before.Skew)
	}
	if err := a.RenewAuthorization(); err != nil {
		t.Errorf("renewal after the replay: %v", err)
	}
}

// TestLostCounterContinues: a device whose state file lost the request
// counter (restored from an old copy) is told by the manager which it saw
// last and continues above it within the same command; after a restart,
// before any answer, licensing time is the device's clock plus the offset
// last measured.
func TestLostCounterContinues(t *testing.T) {
	rm := startRealManager(t)
	a, clk, root := wrongClockDevice(t, rm, 100*day, 0)
	registered(t, rm, a)
	a.Close()
	p := filepath.Join(root, stateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st["request_seq"] == nil {
		t.Fatalf("state file holds no request counter:\n%s", b)
	}
	delete(st, "request_seq")
	b, _ = json.Marshal(st)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	a = startAgent(t, root, clk, 0)
	s := a.Status()
	if s.TimeSource != agentclient.TimeDevice || (s.Skew+100*day).Abs() > time.Second {
		t.Errorf("after a restart: time source %q offset %s, want Device and -100 days", s.TimeSource, s.Skew)
	}
	n := rm.count()
	if err := a.RenewAuthorization(); err != nil {
		t.Fatalf("renewal with a lost counter: %v", err)
	}
	if got := rm.count() - n; got != 2 {
		t.Errorf("%d requests for the renewal, want 2 (refused as a replay, then above the manager's counter)", got)
	}
	if s := a.Status(); s.TimeSource != agentclient.TimeManager {
		t.Errorf("time source %q after an answer", s.TimeSource)
	}
}
