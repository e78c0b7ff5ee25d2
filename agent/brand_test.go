package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/platform"
)

// expresswayRoot is a device root whose brand is Expressway, so Smart
// Licensing is on for the platform and the agent may be enabled.
func expresswayRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	sc := platform.SystemConfig{Hostname: "expe01", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}
	if err := platform.SaveSystemConfig(root, sc); err != nil {
		t.Fatal(err)
	}
	return root
}

// vcsRoot is a device root whose brand is VCS: option keys, Smart
// Licensing off.
func vcsRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	sc := platform.SystemConfig{Hostname: "vcs01", Brand: platform.BrandVCS, Type: platform.TypeC}
	if err := platform.SaveSystemConfig(root, sc); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestEnableNeedsExpressway: on a VCS, Enable is refused with a reason
// naming Service Select and leaves no evaluation anchor and no key; on an
// Expressway it turns Smart Licensing on.
func TestEnableNeedsExpressway(t *testing.T) {
	for _, tc := range []struct {
		name string
		root func(testing.TB) string
		ok   bool
	}{
		{"vcs", vcsRoot, false},
		{"expressway", expresswayRoot, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root(t)
			clk := clock.NewFake(t0)
			a := newTestAgent(t, root, clk, newMemManager(clk))
			err := a.Enable()
			if tc.ok {
				if err != nil || !a.Status().Enabled {
					t.Fatalf("Enable on an Expressway: %v, enabled %v", err, a.Status().Enabled)
				}
				return
			}
			if !errors.Is(err, agentclient.ErrServiceSelect) || !strings.Contains(err.Error(), "ServiceSelect Brand: Expressway") {
				t.Fatalf("Enable on a VCS: %v, want a refusal naming Service Select", err)
			}
			for _, f := range []string{anchorFile, keyFile} {
				if _, err := os.Stat(filepath.Join(root, f)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the refused enable wrote %s: %v", f, err)
				}
			}
			if s := a.Status(); s.Enabled || !s.EvaluationStart.IsZero() {
				t.Errorf("after the refusal: enabled %v, evaluation start %s", s.Enabled, s.EvaluationStart)
			}
		})
	}
}

// exchanges counts every call the manager received.
func exchanges(m *memManager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.calls {
		n += c
	}
	return n
}

// TestDormantOnVCS: a factory reset that keeps licensing but not brand
// and type leaves a registered device a VCS: its settings and
// registration are dormant (no exchange however long it waits, no
// licensing alarm, the status says so); converting it back to Expressway
// uses the registration again without a new token.
func TestDormantOnVCS(t *testing.T) {
	clk := clock.NewFake(t0)
	root := expresswayRoot(t)
	m := newMemManager(clk)
	m.tokens["tok-a"] = memToken{va: "Sales"}
	m.licenses["Sales"] = map[string]int{agentclient.TypeRMS: 5}
	a := newTestAgent(t, root, clk, m)
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("tok-a", false); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUsage(agentclient.TypeRMS, 3); err != nil {
		t.Fatal(err)
	}
	if err := a.RenewAuthorization(); err != nil {
		t.Fatal(err)
	}
	// The manager goes away: a failed renewal raises its alarms.
	m.setDown(errTimedOut())
	if err := a.RenewAuthorization(); err == nil {
		t.Fatal("renewal with the manager down succeeded")
	}
	check(t, "renewal failed", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized, alarms: []int{AlarmCommError, AlarmAuthRenewFailed}})
	m.setDown(nil)

	// factory-reset -t without -v: licensing kept, brand and type reset.
	a.Close()
	if err := platform.ResetServiceSelect(root); err != nil {
		t.Fatal(err)
	}
	before := exchanges(m)
	a = newTestAgent(t, root, clk, m)
	a.SyncEnabled()
	check(t, "dormant", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthNotApplicable,
		usage: map[string]string{agentclient.TypeRMS: agentclient.TypeNotAuthorized}})
	if s := a.Status(); s.Enabled || !s.Dormant {
		t.Errorf("dormant: enabled %v, dormant %v", s.Enabled, s.Dormant)
	}
	// Renewals, retries and the registration's renewal all come due.
	for range 8 {
		clk.Advance(25 * day)
		a.SyncEnabled()
	}
	if err := a.RenewAuthorization(); !errors.Is(err, agentclient.ErrServiceSelect) {
		t.Errorf("RenewAuthorization on a VCS: %v, want a refusal naming Service Select", err)
	}
	if _, err := a.Deregister(); !errors.Is(err, agentclient.ErrServiceSelect) {
		t.Errorf("Deregister on a VCS: %v, want a refusal naming Service Select", err)
	}
	if n := exchanges(m) - before; n != 0 {
		t.Errorf("a dormant VCS made %d exchanges with the manager in 200 days", n)
	}
	check(t, "dormant 200 days on", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthNotApplicable,
		usage: map[string]string{agentclient.TypeRMS: agentclient.TypeNotAuthorized}})

	// Service Select converts it back: the registration (its certificate
	// still valid) is used again at once, without a new token.
	if err := platform.SetBrand(root, platform.BrandExpressway, clk); err != nil {
		t.Fatal(err)
	}
	registers := m.count("register")
	if err := a.Enable(); err != nil { // what the conversion's hook calls
		t.Fatal(err)
	}
	check(t, "converted back", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized,
		usage: map[string]string{agentclient.TypeRMS: agentclient.TypeAuthorized}})
	if exchanges(m) == before || m.count("register") != registers {
		t.Errorf("after the conversion: %d exchanges, %d new registrations; want an authorization and no registration", exchanges(m)-before, m.count("register")-registers)
	}
	if s := a.Status(); !s.Enabled || s.Dormant {
		t.Errorf("converted back: enabled %v, dormant %v", s.Enabled, s.Dormant)
	}
}
