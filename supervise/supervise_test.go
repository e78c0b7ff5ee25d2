package supervise

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/clock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newSupervisor(t *testing.T) (*Supervisor, *clock.Fake, chan Event) {
	t.Helper()
	c := clock.NewFake(epoch)
	events := make(chan Event)
	s := &Supervisor{
		LogDir:     filepath.Join(t.TempDir(), "data", "log"),
		LogMaxSize: 1 << 20,
		LogKeep:    3,
		Clock:      c,
		Backoff:    Backoff{Min: time.Second, Max: 8 * time.Second, Stable: 30 * time.Second},
		Events:     events,
	}
	return s, c, events
}

func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no supervisor event within 10s")
		return Event{}
	}
}

func expect(t *testing.T, events <-chan Event, kind EventKind, run int) Event {
	t.Helper()
	e := next(t, events)
	for e.Kind == Ready && kind != Ready {
		e = next(t, events)
	}
	if e.Kind != kind || e.Run != run {
		t.Fatalf("event %v run %d (%+v), want %v run %d", e.Kind, e.Run, e, kind, run)
	}
	return e
}

// stopAsync stops the supervisor while draining its events.
func stopAsync(s *Supervisor, events chan Event) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-events:
			case <-done:
				return
			}
		}
	}()
	s.Stop(time.Second)
	close(done)
}

func TestCrashRestartsWithBackoff(t *testing.T) {
	s, c, events := newSupervisor(t)
	err := s.Start([]Service{{
		Name: "crasher",
		Path: "/bin/sh",
		Args: []string{"-c", "echo out; echo err >&2; exit 3"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantDelays := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, want := range wantDelays {
		run := i + 1
		expect(t, events, Started, run)
		e := expect(t, events, Exited, run)
		var exitErr interface{ ExitCode() int }
		if !errors.As(e.Err, &exitErr) || exitErr.ExitCode() != 3 {
			t.Fatalf("run %d exit error %v, want exit status 3", run, e.Err)
		}
		e = expect(t, events, Scheduled, run)
		if e.Delay != want {
			t.Fatalf("restart %d delay %v, want %v", run, e.Delay, want)
		}
		// Just before the delay nothing happens.
		c.Advance(want - time.Millisecond)
		if c.Pending() != 1 {
			t.Fatalf("restart %d fired before its delay", run)
		}
		select {
		case e := <-events:
			t.Fatalf("event %+v before the backoff delay passed", e)
		default:
		}
		c.Advance(time.Millisecond)
	}
	expect(t, events, Started, len(wantDelays)+1)
	stopAsync(s, events)

	log, err := os.ReadFile(filepath.Join(s.LogDir, "crasher.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "out\n"); n < len(wantDelays) {
		t.Errorf("log holds %d stdout lines, want at least %d:\n%s", n, len(wantDelays), log)
	}
	if n := strings.Count(string(log), "err\n"); n < len(wantDelays) {
		t.Errorf("log holds %d stderr lines, want at least %d", n, len(wantDelays))
	}
	if !strings.Contains(string(log), "init: crasher stopped (exit status 3); restarting in 1s") {
		t.Errorf("log does not record the restart:\n%s", log)
	}
}

func TestStableRunResetsBackoff(t *testing.T) {
	s, c, events := newSupervisor(t)
	flag := filepath.Join(t.TempDir(), "stop")
	// Crashes at once on the first run, then runs until flag exists.
	script := `if [ -e "$F.first" ]; then while [ ! -e "$F" ]; do sleep 0.01; done; fi; touch "$F.first"; exit 1`
	if err := s.Start([]Service{{Name: "svc", Path: "/bin/sh", Args: []string{"-c", script}, Env: []string{"F=" + flag}}}); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Started, 1)
	expect(t, events, Exited, 1)
	if e := expect(t, events, Scheduled, 1); e.Delay != time.Second {
		t.Fatalf("first delay %v, want 1s", e.Delay)
	}
	c.Advance(time.Second)
	expect(t, events, Started, 2)
	c.Advance(time.Minute) // runs a stable minute
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Exited, 2)
	if e := expect(t, events, Scheduled, 2); e.Delay != time.Second {
		t.Errorf("delay after a stable run %v, want 1s (reset)", e.Delay)
	}
	stopAsync(s, events)
}

func TestWaitReadyAndStop(t *testing.T) {
	s, _, events := newSupervisor(t)
	ready := make(chan struct{})
	s.Events = nil
	_ = events
	err := s.Start([]Service{
		{Name: "plain", Path: "/bin/sleep", Args: []string{"60"}},
		{Name: "checked", Path: "/bin/sleep", Args: []string{"60"}, Ready: func(ctx context.Context) error {
			select {
			case <-ready:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WaitReady(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady before the check passed = %v, want context.Canceled", err)
	}
	close(ready)
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { s.Stop(time.Second); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not end the services (SIGTERM ignored?)")
	}
}

func TestStartMissingProgramRetries(t *testing.T) {
	s, c, events := newSupervisor(t)
	if err := s.Start([]Service{{Name: "ghost", Path: filepath.Join(t.TempDir(), "nope")}}); err != nil {
		t.Fatal(err)
	}
	e := expect(t, events, Exited, 1)
	if !errors.Is(e.Err, os.ErrNotExist) {
		t.Errorf("start error %v, want not-exist", e.Err)
	}
	expect(t, events, Scheduled, 1)
	c.Advance(time.Second)
	expect(t, events, Exited, 2)
	stopAsync(s, events)
}

func TestDuplicateServiceRefused(t *testing.T) {
	s, _, _ := newSupervisor(t)
	err := s.Start([]Service{{Name: "a", Path: "/bin/true"}, {Name: "a", Path: "/bin/true"}})
	if err == nil {
		t.Fatal("two services named a were accepted")
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 6: 32 * time.Second, 7: time.Minute, 100: time.Minute} {
		if got := b.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestOutputGoesToConsoleWhenLogFails(t *testing.T) {
	s, _, events := newSupervisor(t)
	// A file where the log directory should be: the log cannot open.
	if err := os.MkdirAll(filepath.Dir(s.LogDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.LogDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var console strings.Builder
	s.Console = &syncWriter{w: &console}
	if err := s.Start([]Service{{Name: "svc", Path: "/bin/sh", Args: []string{"-c", "echo still-here; exit 0"}}}); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Started, 1)
	e := expect(t, events, Exited, 1)
	if !errors.Is(e.Err, errExitedZero) {
		t.Errorf("service ended with %v, want a clean exit (its output did not fail)", e.Err)
	}
	expect(t, events, Scheduled, 1)
	stopAsync(s, events)
	got := s.Console.(*syncWriter).String()
	if !strings.Contains(got, "svc: still-here\n") || !strings.Contains(got, "its output goes to the console") {
		t.Errorf("console:\n%s", got)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
