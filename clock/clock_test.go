package clock

import (
	"runtime"
	"testing"
	"time"
)

func TestFakeFiresInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(start)
	var got []time.Duration
	c.AfterFunc(48*time.Hour, func() { got = append(got, c.Now().Sub(start)) })
	c.AfterFunc(24*time.Hour, func() {
		got = append(got, c.Now().Sub(start))
		c.AfterFunc(time.Hour, func() { got = append(got, c.Now().Sub(start)) })
	})
	stopped := c.AfterFunc(30*time.Hour, func() { t.Error("stopped timer fired") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	c.Advance(72 * time.Hour)
	want := []time.Duration{24 * time.Hour, 25 * time.Hour, 48 * time.Hour}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	if c.Now().Sub(start) != 72*time.Hour {
		t.Fatalf("clock at %v, want 72h", c.Now().Sub(start))
	}
	if c.Pending() != 0 {
		t.Fatalf("%d timers pending, want 0", c.Pending())
	}
}

func TestFakeBackwardsFiresNothing(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(start)
	fired := false
	c.AfterFunc(time.Hour, func() { fired = true })
	c.Set(start.Add(-24 * time.Hour))
	if fired {
		t.Fatal("timer fired when the clock moved back")
	}
	c.Set(start.Add(time.Hour))
	if !fired {
		t.Fatal("timer did not fire at its absolute due time")
	}
}

func TestMonotonicIgnoresWallSteps(t *testing.T) {
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	c := NewFake(start)
	c.Advance(time.Hour)
	c.Set(start.Add(-100 * 24 * time.Hour)) // the wall clock stepped back
	c.Advance(time.Minute)
	if got := Monotonic(c); got != time.Hour+time.Minute {
		t.Errorf("fake monotonic %s, want 1h1m", got)
	}
	c.Set(c.Now().Add(2 * time.Hour)) // forward: time passes
	if got := Monotonic(c); got != 3*time.Hour+time.Minute {
		t.Errorf("fake monotonic after Set forward %s, want 3h1m", got)
	}
	if a, b := Monotonic(Real{}), Monotonic(Real{}); b < a {
		t.Errorf("real monotonic went back: %s then %s", a, b)
	}
}

func TestSleepWaitsForTheClock(t *testing.T) {
	c := NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	done := make(chan struct{})
	go func() { Sleep(c, time.Minute); close(done) }()
	for c.Pending() == 0 {
		runtime.Gosched()
	}
	c.Advance(59 * time.Second)
	select {
	case <-done:
		t.Fatal("Sleep returned before its time")
	default:
	}
	c.Advance(time.Second)
	<-done
}
