package agent

import (
	"strings"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
)

func TestExportControlWatermark(t *testing.T) {
	clk := clock.NewFake(t0)
	root := expresswayRoot(t)
	a := newTestAgent(t, root, clk, newMemManager(clk))
	steps := []struct {
		encrypted int
		webrtc    bool
		accepting bool
		alarms    []int
	}{
		{100, false, true, nil},
		{2249, false, true, nil},
		{2250, false, true, []int{AlarmExportApproaching}},
		{2499, false, true, []int{AlarmExportApproaching}},
		{2500, false, false, []int{AlarmExportCapReached}},
		{2490, false, false, []int{AlarmExportCapReached}}, // above the low watermark
		{2475, false, false, []int{AlarmExportCapReached}},
		{2474, false, true, []int{AlarmExportApproaching}}, // below 2475: admitted again
		{2244, true, false, []int{AlarmExportCapReached}},  // WebRTC lowers the cap
		{2222, true, false, []int{AlarmExportCapReached}},
		{2221, true, true, []int{AlarmExportApproaching}},
		{2221, false, true, nil},
	}
	for _, s := range steps {
		st, err := a.SetSessions(s.encrypted, s.webrtc)
		if err != nil {
			t.Fatal(err)
		}
		if st.Accepting != s.accepting {
			t.Errorf("%d sessions (WebRTC %v): accepting %v, want %v", s.encrypted, s.webrtc, st.Accepting, s.accepting)
		}
		got := diskAlarms(t, root)
		want := s.alarms
		if want == nil {
			want = []int{}
		}
		if len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) {
			t.Errorf("%d sessions (WebRTC %v): alarms %v, want %v", s.encrypted, s.webrtc, got, want)
		}
	}
	if _, err := a.SetSessions(-1, false); err == nil {
		t.Error("negative session count accepted")
	}
}

// TestExpiryInManagerTime: with the manager's clock two days ahead of the
// device, deadlines the manager states in its own time (the certificate's
// end) are converted with the measured skew, and authorization expires 90
// days of manager time after the last answer.
func TestExpiryInManagerTime(t *testing.T) {
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	m.skew = 2 * day
	m.tokens["t"] = memToken{va: "Sales"}
	root := expresswayRoot(t)
	a := newTestAgent(t, root, clk, m)
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("t", false); err != nil {
		t.Fatal(err)
	}
	if got := a.Status().Skew; got != 2*day {
		t.Fatalf("measured skew %s, want 48h", got)
	}
	if got, want := a.Status().RegistrationExpires, t0.AddDate(1, 0, 0); !got.Equal(want) {
		t.Errorf("registration expires %s on the device clock, want %s (the manager's end minus the skew)", got, want)
	}
	m.setDown(errTimedOut())
	clk.Advance(AuthValidFor - time.Second)
	if got := a.Status().Authorization; got != agentclient.AuthNoLicenses {
		t.Errorf("just before expiry in manager time: %q", got)
	}
	clk.Advance(time.Second)
	if got := a.Status().Authorization; got != agentclient.AuthExpired {
		t.Errorf("at expiry in manager time: %q, want %q", got, agentclient.AuthExpired)
	}
}

// TestHostnameChangePushed: a new hostname reaches the manager through a
// registration renewal, at once.
func TestHostnameChangePushed(t *testing.T) {
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	m.tokens["t"] = memToken{va: "Sales"}
	host := "vx1.example.com"
	a, err := New(Options{Root: expresswayRoot(t), Clock: clk, Dial: m.dial,
		Hostname: func() string { return host }, IP: func() string { return "192.0.2.10" }})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer a.Close()
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("t", false); err != nil {
		t.Fatal(err)
	}
	clk.Advance(day)
	if n := m.count("renew"); n != 0 {
		t.Fatalf("%d renewals with an unchanged hostname", n)
	}
	host = "vx2.example.com"
	clk.Advance(day) // the daily wake notices it
	if n := m.count("renew"); n != 1 || m.lastHost != "vx2.example.com" {
		t.Errorf("after the hostname change: %d renewals, manager has %q", n, m.lastHost)
	}
}

// TestInstanceRemovedOnManager: when the manager no longer knows the
// instance, the device is unregistered and says why.
func TestInstanceRemovedOnManager(t *testing.T) {
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	m.tokens["t"] = memToken{va: "Sales"}
	root := expresswayRoot(t)
	a := newTestAgent(t, root, clk, m)
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("t", false); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	clear(m.inst)
	m.mu.Unlock()
	if err := a.RenewAuthorization(); err == nil {
		t.Fatal("renewal of a removed instance succeeded")
	}
	s := a.Status()
	if s.Registration != agentclient.RegUnregistered || s.Authorization != agentclient.AuthEvaluation || !strings.Contains(s.Warning, "Register again") {
		t.Errorf("after removal on the manager: %q / %q, warning %q", s.Registration, s.Authorization, s.Warning)
	}
	check(t, "removed", a, root, want{reg: agentclient.RegUnregistered, auth: agentclient.AuthEvaluation, alarms: []int{AlarmEvaluation}})
	if err := a.Register("t", false); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	if s := a.Status(); s.Warning != "" {
		t.Errorf("warning %q kept after registering again", s.Warning)
	}
}

// TestOneTimerWhenIdle: the agent waits on a single timer for its next
// deadline, whatever its state; nothing polls.
func TestOneTimerWhenIdle(t *testing.T) {
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	m.tokens["t"] = memToken{va: "Sales"}
	a := newTestAgent(t, expresswayRoot(t), clk, m)
	steps := []struct {
		name string
		do   func() error
	}{
		{"enabled", a.Enable},
		{"usage", func() error { return a.SetUsage(agentclient.TypeRMS, 2) }},
		{"registered", func() error { return a.Register("t", false) }},
		{"a week on", func() error { clk.Advance(7 * day); return nil }},
		{"manager down", func() error { m.setDown(errTimedOut()); return a.RenewAuthorization() }},
	}
	for _, s := range steps {
		_ = s.do()
		if n := clk.Pending(); n != 1 {
			t.Errorf("%s: %d timers pending, want 1", s.name, n)
		}
	}
	a.Close()
	if n := clk.Pending(); n != 0 {
		t.Errorf("closed: %d timers pending, want 0", n)
	}
}
