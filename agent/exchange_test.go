package agent

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/clock"
)

// logLines collects an agent's log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// TestRetryIntervalInLogs: the log lines of failed exchanges give the
// retry interval the agent runs with, and the retries come after it.
func TestRetryIntervalInLogs(t *testing.T) {
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	m.tokens["t"] = memToken{va: "Sales"}
	var log logLines
	a, err := New(Options{Root: expresswayRoot(t), Clock: clk, Dial: m.dial, Logf: log.logf, RetryEvery: 2 * time.Minute,
		Hostname: func() string { return "vx1.example.com" }, IP: func() string { return "192.0.2.10" }})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(a.Close)
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	m.setDown(errTimedOut())
	if err := a.Register("t", false); err == nil {
		t.Fatal("registration with the manager down succeeded")
	}
	if !log.has("registration pending, retrying in 2 minutes") {
		t.Errorf("log does not give the 2-minute retry:\n%s", &log)
	}
	clk.Advance(2 * time.Minute)
	if n := m.count("register"); n != 2 {
		t.Errorf("%d registrations after 2 minutes, want the first and its retry", n)
	}
	m.setDown(nil)
	clk.Advance(2 * time.Minute)
	if a.Status().InstanceID == "" {
		t.Fatal("not registered once the manager was back")
	}
	m.setDown(errors.New("connection refused"))
	if err := a.RenewAuthorization(); err == nil {
		t.Fatal("authorization with the manager down succeeded")
	}
	if err := a.RenewRegistration(); err == nil {
		t.Fatal("renewal with the manager down succeeded")
	}
	for _, want := range []string{"authorization request failed, retrying in 2 minutes", "registration renewal failed, retrying in 2 minutes"} {
		if !log.has(want) {
			t.Errorf("log does not say %q:\n%s", want, &log)
		}
	}
	if log.has("15 minutes") {
		t.Errorf("log names an interval the agent does not run with:\n%s", &log)
	}
}

func TestEvery(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{RetryEvery, "15 minutes"},
		{time.Minute, "1 minute"},
		{time.Hour, "1 hour"},
		{6 * time.Hour, "6 hours"},
		{90 * time.Minute, "90 minutes"},
		{time.Second, "1 second"},
		{1500 * time.Millisecond, "1.5s"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := every(tc.d); got != tc.want {
				t.Errorf("every(%s) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}
