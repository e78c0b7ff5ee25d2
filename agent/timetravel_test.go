package agent

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
)

const day = 24 * time.Hour

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func newTestAgent(t *testing.T, root string, clk clock.Clock, m *memManager) *Agent {
	t.Helper()
	a, err := New(Options{Root: root, Clock: clk, Dial: m.dial,
		Hostname: func() string { return "vx1.example.com" }, IP: func() string { return "192.0.2.10" }})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(a.Close)
	return a
}

// diskAlarms lists the alarm ids raised in root's alarm directory.
func diskAlarms(t *testing.T, root string) []int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "data/alarms"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	ids := []int{}
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json")); err == nil {
			ids = append(ids, n)
		}
	}
	sort.Ints(ids)
	return ids
}

type want struct {
	reg, auth string
	alarms    []int
	usage     map[string]string // type -> status
}

func check(t *testing.T, label string, a *Agent, root string, w want) {
	t.Helper()
	s := a.Status()
	if s.Registration != w.reg || s.Authorization != w.auth {
		t.Errorf("%s: status %q / %q, want %q / %q (failure %q)", label, s.Registration, s.Authorization, w.reg, w.auth, s.FailureReason)
	}
	if w.alarms == nil {
		w.alarms = []int{}
	}
	if got := diskAlarms(t, root); !reflect.DeepEqual(got, w.alarms) {
		t.Errorf("%s: alarms on disk %v, want %v", label, got, w.alarms)
	}
	if w.usage != nil {
		got := map[string]string{}
		for _, u := range s.Usage {
			got[u.Type] = u.Status
		}
		if !reflect.DeepEqual(got, w.usage) {
			t.Errorf("%s: usage statuses %v, want %v", label, got, w.usage)
		}
	}
}

// TestTimeTravel drives one device through 400 days of licensing with a
// fake clock: evaluation and its expiry at day 90, registration, 30-day
// authorization renewals, a manager outage long enough for authorization
// to expire, recovery, registration renewal at six months, and a final
// outage in which the registration expires at one year.
func TestTimeTravel(t *testing.T) {
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	m.tokens["tok-sales"] = memToken{va: "Sales", export: true}
	m.licenses["Sales"] = map[string]int{agentclient.TypeRMS: 10, agentclient.TypeRoom: 5}
	root := expresswayRoot(t)
	a := newTestAgent(t, root, clk, m)

	check(t, "before enable", a, root, want{reg: agentclient.RegUnregistered, auth: agentclient.AuthNotApplicable})
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	check(t, "day 0", a, root, want{reg: agentclient.RegUnregistered, auth: agentclient.AuthEvaluation, alarms: []int{AlarmEvaluation}})
	if err := a.SetUsage(agentclient.TypeRoom, 3); err != nil {
		t.Fatalf("registering endpoints in evaluation: %v", err)
	}
	clk.Advance(90*day - time.Second)
	check(t, "day 90 minus 1s", a, root, want{reg: agentclient.RegUnregistered, auth: agentclient.AuthEvaluation, alarms: []int{AlarmEvaluation},
		usage: map[string]string{agentclient.TypeRoom: agentclient.TypeEvaluation}})
	clk.Advance(time.Second)
	check(t, "day 90", a, root, want{reg: agentclient.RegUnregistered, auth: agentclient.AuthEvalExpired, alarms: []int{AlarmEvaluationExpired},
		usage: map[string]string{agentclient.TypeRoom: agentclient.TypeEvalExpired}})
	if !a.Status().Unauthorized {
		t.Error("day 90: not Unauthorized")
	}
	if err := a.SetUsage(agentclient.TypeRoom, 4); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Errorf("new endpoint registration after evaluation expiry: %v, want ErrUnauthorized", err)
	}
	if err := a.SetUsage(agentclient.TypeRoom, 2); err != nil {
		t.Errorf("endpoint leaving after evaluation expiry: %v", err)
	}

	// Register at day 91.
	clk.Advance(day)
	if err := a.Register("tok-sales", false); err != nil {
		t.Fatal(err)
	}
	regDay := clk.Now()
	check(t, "registered", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized, usage: map[string]string{agentclient.TypeRoom: agentclient.TypeAuthorized}})
	if err := a.SetUsage(agentclient.TypeRoom, 5); err != nil {
		t.Errorf("endpoint registration once registered: %v", err)
	}
	if err := a.SetUsage(agentclient.TypeRMS, 4); err != nil {
		t.Fatal(err)
	}
	// Until the manager answers for it, the device cannot say every
	// type in use is authorized.
	check(t, "new type waits", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthNotApplicable,
		usage: map[string]string{agentclient.TypeRoom: agentclient.TypeAuthorized, agentclient.TypeRMS: agentclient.TypeWaiting}})
	clk.Advance(newTypeDelay)
	check(t, "new type authorized", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized,
		usage: map[string]string{agentclient.TypeRoom: agentclient.TypeAuthorized, agentclient.TypeRMS: agentclient.TypeAuthorized}})

	// Authorization renews every 30 days; nothing else talks meanwhile.
	auths := m.count("authorize")
	clk.Advance(30*day - time.Second)
	if n := m.count("authorize"); n != auths {
		t.Errorf("before 30 days: %d authorization requests, want %d", n, auths)
	}
	clk.Advance(time.Second)
	if n := m.count("authorize"); n != auths+1 {
		t.Errorf("at 30 days: %d authorization requests, want %d", n, auths+1)
	}

	// Usage changes are reported at the next 6-hour tick.
	if err := a.SetUsage(agentclient.TypeRMS, 11); err != nil {
		t.Fatal(err)
	}
	clk.Advance(UsageReportEvery)
	check(t, "overage", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthOutOfCompliance, alarms: []int{AlarmOutOfCompliance},
		usage: map[string]string{agentclient.TypeRoom: agentclient.TypeAuthorized, agentclient.TypeRMS: agentclient.TypeOutOfCompliance}})
	if err := a.SetUsage(agentclient.TypeRMS, 4); err != nil {
		t.Fatal(err)
	}
	if err := a.UpdateUsage(); err != nil {
		t.Fatal(err)
	}
	lastAuth := clk.Now()
	check(t, "back in compliance", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized})

	// The manager goes away: the next renewal fails and is retried every
	// 15 minutes with its reason; alarms 30042 and 30044 are raised.
	m.setDown(errTimedOut())
	clk.Set(lastAuth.Add(30 * day))
	check(t, "renewal failed", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized, alarms: []int{AlarmCommError, AlarmAuthRenewFailed}})
	if r := a.Status().FailureReason; !strings.Contains(r, "operation timed out") {
		t.Errorf("failure reason %q does not say operation timed out", r)
	}
	tries := m.count("authorize")
	clk.Advance(time.Hour)
	if n := m.count("authorize") - tries; n != 4 {
		t.Errorf("%d retries in an hour, want 4 (every 15 minutes)", n)
	}
	clk.Set(lastAuth.Add(60 * day))
	check(t, "authorization expiring", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized,
		alarms: []int{AlarmCommError, AlarmAuthExpiringSoon, AlarmAuthRenewFailed}})
	clk.Set(lastAuth.Add(90*day - time.Second))
	check(t, "authorization 1s before expiry", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized,
		alarms: []int{AlarmCommError, AlarmAuthExpiringSoon, AlarmAuthRenewFailed}})
	clk.Advance(time.Second)
	check(t, "authorization expired", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthExpired,
		alarms: []int{AlarmAuthExpired, AlarmAuthExpiredInUse, AlarmCommError, AlarmAuthRenewFailed},
		usage:  map[string]string{agentclient.TypeRoom: agentclient.TypeAuthExpired, agentclient.TypeRMS: agentclient.TypeAuthExpired}})

	// The manager comes back: the next retry succeeds and clears it all.
	m.setDown(nil)
	clk.Advance(RetryEvery)
	check(t, "recovered", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthAuthorized})
	if a.Status().FailureReason != "" {
		t.Errorf("failure reason %q after recovery", a.Status().FailureReason)
	}

	// Registration renews six months after registering.
	renewAt := regRenewAfter(regDay)
	clk.Set(renewAt.Add(-time.Second))
	if n := m.count("renew"); n != 0 {
		t.Errorf("%d registration renewals before six months", n)
	}
	clk.Set(renewAt)
	if n := m.count("renew"); n != 1 {
		t.Errorf("%d registration renewals at six months, want 1", n)
	}
	st := a.Status()
	if !st.RegistrationExpires.Equal(renewAt.AddDate(1, 0, 0)) {
		t.Errorf("registration expires %s, want a year after renewal %s", st.RegistrationExpires, renewAt.AddDate(1, 0, 0))
	}

	// A year without contact: authorization expires, the registration
	// renewal fails, the registration expires when its certificate does.
	m.setDown(errTimedOut())
	lastContact := clk.Now()
	clk.Set(lastContact.Add(AuthValidFor))
	if got := a.Status().Authorization; got != agentclient.AuthExpired {
		t.Errorf("90 days without contact: authorization %q", got)
	}
	clk.Set(regRenewAfter(renewAt))
	check(t, "registration renewal failed", a, root, want{reg: agentclient.RegRegistered, auth: agentclient.AuthExpired,
		alarms: []int{AlarmAuthExpired, AlarmAuthExpiredInUse, AlarmCommError, AlarmAuthRenewFailed, AlarmRegRenewFailed}})
	certEnd := renewAt.AddDate(1, 0, 0)
	clk.Set(certEnd.Add(-31 * day))
	if got := diskAlarms(t, root); containsInt(got, AlarmRegExpiringSoon) {
		t.Errorf("registration expiring alarm raised 31 days before the end: %v", got)
	}
	clk.Set(certEnd.Add(-29 * day))
	if got := diskAlarms(t, root); !containsInt(got, AlarmRegExpiringSoon) {
		t.Errorf("registration expiring alarm not raised 29 days before the end: %v", got)
	}
	clk.Set(certEnd)
	check(t, "registration expired", a, root, want{reg: agentclient.RegExpired, auth: agentclient.AuthEvalExpired,
		alarms: []int{AlarmEvaluationExpired, AlarmRegExpired}})
	if d := clk.Now().Sub(t0); d < 400*day {
		t.Errorf("the run covered %s, want at least 400 days", d)
	}
	if err := a.SetUsage(agentclient.TypeRoom, 6); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Errorf("new endpoint registration after registration expiry: %v, want ErrUnauthorized", err)
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
