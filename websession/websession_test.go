package websession

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"vxway/clock"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func TestSessionsEnd(t *testing.T) {
	c := clock.NewFake(t0)
	s := New(c, func() time.Duration { return 30 * time.Minute }, 8*time.Hour, 2)
	a := s.Create("alice", "stamp")
	if a.CSRF == "" || a.ID == a.CSRF || len(a.ID) != 43 {
		t.Fatalf("session %+v", a)
	}
	for _, tc := range []struct {
		name  string
		step  time.Duration
		alive bool
	}{
		{"used within the idle timeout", 29 * time.Minute, true},
		{"used again", 29 * time.Minute, true},
		{"idle 30 minutes", 30 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Advance(tc.step)
			if _, ok := s.Get(a.ID); ok != tc.alive {
				t.Fatalf("alive %v, want %v", ok, tc.alive)
			}
		})
	}
	t.Run("lifetime", func(t *testing.T) {
		b := s.Create("bob", "stamp")
		for range 16 {
			c.Advance(29 * time.Minute)
			if _, ok := s.Get(b.ID); !ok {
				t.Fatal("ended while in use within its lifetime")
			}
		}
		c.Advance(time.Hour)
		if _, ok := s.Get(b.ID); ok {
			t.Fatal("alive after 8 hours")
		}
	})
	t.Run("limit ends the longest idle", func(t *testing.T) {
		x := s.Create("x", "")
		c.Advance(time.Minute)
		y := s.Create("y", "")
		c.Advance(time.Minute)
		s.Get(x.ID)
		z := s.Create("z", "")
		if _, ok := s.Get(y.ID); ok {
			t.Error("the longest idle session survived the limit")
		}
		for _, k := range []*Session{x, z} {
			if _, ok := s.Get(k.ID); !ok {
				t.Errorf("session of %s ended", k.User)
			}
		}
		s.DropUser("x")
		if _, ok := s.Get(x.ID); ok {
			t.Error("DropUser left the session")
		}
	})
	t.Run("flash once", func(t *testing.T) {
		x := s.Create("f", "")
		s.AddFlash(x, Flash{Text: "one"})
		if f := s.TakeFlash(x); len(f) != 1 || f[0].Text != "one" {
			t.Fatalf("flash %v", f)
		}
		if f := s.TakeFlash(x); len(f) != 0 {
			t.Fatalf("flash shown twice: %v", f)
		}
	})
}

func TestLockout(t *testing.T) {
	c := clock.NewFake(t0)
	l := NewLockout(c, DefaultLockout)
	keys := []string{AccountKey("alice"), SourceKey("192.0.2.1")}
	for i := 1; i < DefaultLockout.MaxFailures; i++ {
		n, until := l.Fail(keys...)
		if n != i || !until.IsZero() {
			t.Fatalf("failure %d: %d, locked until %v", i, n, until)
		}
		if d := l.Delay(n); d != min(time.Duration(i)*time.Second, 3*time.Second) {
			t.Errorf("delay after %d failures: %v", i, d)
		}
	}
	n, until := l.Fail(keys...)
	if !until.Equal(t0.Add(5 * time.Minute)) {
		t.Fatalf("fifth failure locked until %v", until)
	}
	var waited []time.Duration
	sleep := func(d time.Duration) { waited = append(waited, d) }
	if msg := l.Refuse(n, until, sleep); !strings.Contains(msg, "wrong") || !strings.Contains(msg, "try again in 5 minute") {
		t.Errorf("the answer to the locking failure: %q", msg)
	}
	if msg := l.Refuse(2, time.Time{}, sleep); strings.Contains(msg, "locked") {
		t.Errorf("the answer to an unlocked failure speaks of a lock: %q", msg)
	}
	if !slices.Equal(waited, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("the failures waited %v, want [1s 2s] (a locking failure waits as the first)", waited)
	}
	if !l.LockedUntil(SourceKey("192.0.2.1")).Equal(t0.Add(5 * time.Minute)) {
		t.Error("the source address is not locked")
	}
	if !l.LockedUntil(AccountKey("bob")).IsZero() {
		t.Error("another account is locked")
	}
	l.Succeed(keys...) // a success while locked does not lift the lock
	if l.LockedUntil(keys...).IsZero() {
		t.Error("Succeed lifted a lock")
	}
	c.Advance(5 * time.Minute)
	if !l.LockedUntil(keys...).IsZero() {
		t.Error("still locked after 5 minutes")
	}
	if !strings.Contains(LockedText(90*time.Second), "2 minute") {
		t.Errorf("LockedText: %q", LockedText(90*time.Second))
	}
}

func TestCheckPost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		token   string
		headers map[string]string
		ok      bool
	}{
		{"token, no origin headers", "tok", nil, true},
		{"same origin", "tok", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, true},
		{"own Origin", "tok", map[string]string{"Origin": "https://mgr.example"}, true},
		{"wrong token", "tox", nil, false},
		{"no token", "", nil, false},
		{"cross-site", "tok", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site is not same-origin", "tok", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"other Origin", "tok", map[string]string{"Origin": "https://evil.example"}, false},
		{"http Origin", "tok", map[string]string{"Origin": "http://mgr.example"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "https://mgr.example/portal/x", strings.NewReader(url.Values{CSRFField: {tc.token}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := CheckPost(r, "tok"); got != tc.ok {
				t.Fatalf("CheckPost = %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestLockoutBegin: attempts under way count against the lock, so that
// attempts made at once check at most MaxFailures passwords; an attempt
// that ends (whatever its outcome) frees its place, and a success forgets
// the failures.
func TestLockoutBegin(t *testing.T) {
	c := clock.NewFake(t0)
	l := NewLockout(c, DefaultLockout)
	keys := []string{AccountKey("alice"), SourceKey("192.0.2.1")}
	for i := 0; i < DefaultLockout.MaxFailures; i++ {
		if until, ok := l.Begin(keys...); !ok || !until.IsZero() {
			t.Fatalf("attempt %d under way refused (%v)", i+1, until)
		}
	}
	if until, ok := l.Begin(AccountKey("alice"), SourceKey("192.0.2.9")); ok || !until.IsZero() {
		t.Fatalf("an attempt beyond MaxFailures under way: ok %v, until %v", ok, until)
	}
	if _, ok := l.Begin(AccountKey("bob"), SourceKey("192.0.2.9")); !ok {
		t.Fatal("another user from another address refused")
	}
	l.End(AccountKey("bob"), SourceKey("192.0.2.9"))
	l.Succeed(keys...)
	for i := 0; i < DefaultLockout.MaxFailures; i++ {
		l.End(keys...)
	}
	if _, ok := l.Begin(keys...); !ok {
		t.Fatal("refused after one attempt under way succeeded")
	}
	l.End(keys...)
	for i := 1; i < DefaultLockout.MaxFailures; i++ {
		l.Fail(keys...)
	}
	if _, ok := l.Begin(keys...); !ok {
		t.Fatal("refused with one failure left")
	}
	if _, ok := l.Begin(keys...); ok {
		t.Fatal("two attempts under way with one failure left")
	}
	if _, until := l.Fail(keys...); until.IsZero() {
		t.Fatal("the last failure did not lock")
	}
	l.End(keys...)
	if until, ok := l.Begin(keys...); ok || !until.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("while locked: ok %v, until %v", ok, until)
	}
	c.Advance(5 * time.Minute)
	if _, ok := l.Begin(keys...); !ok {
		t.Fatal("refused after the lock")
	}
}

// TestSourceKey: an IPv6 source is keyed by its /64, the block one host
// or site holds (else every one of its 2^64 addresses would have its own
// count); IPv4 by the address, written either way.
func TestSourceKey(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8::1", "2001:db8::ffff:2", true},
		{"2001:db8::1", "2001:db8:0:1::1", false},
		{"192.0.2.1", "::ffff:192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"fe80::1%eth0", "fe80::2", true},
	} {
		t.Run(tc.a+" "+tc.b, func(t *testing.T) {
			if got := SourceKey(tc.a) == SourceKey(tc.b); got != tc.same {
				t.Errorf("SourceKey(%q) = %q, SourceKey(%q) = %q; same: %v, want %v", tc.a, SourceKey(tc.a), tc.b, SourceKey(tc.b), got, tc.same)
			}
		})
	}
}
