package websession

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"vxway/clock"
)

// LockoutPolicy slows and locks sign-in after failures. Failures are
// counted per account and per source address: MaxFailures failures within
// Window lock that account (or address) for LockFor. Each failed attempt
// is answered after Delay times the failures so far (at most MaxDelay).
type LockoutPolicy struct {
	MaxFailures int
	Window      time.Duration
	LockFor     time.Duration
	Delay       time.Duration
	MaxDelay    time.Duration
}

// DefaultLockout is the device's and the portal's policy: five failures in
// 15 minutes lock for 5 minutes; answers to failures are slowed by a second per failure,
// at most 3 s.
var DefaultLockout = LockoutPolicy{MaxFailures: 5, Window: 15 * time.Minute, LockFor: 5 * time.Minute, Delay: time.Second, MaxDelay: 3 * time.Second}

// maxTracked bounds the accounts and addresses tracked; beyond it the
// oldest entries that are not locked are forgotten first.
const maxTracked = 4096

type failures struct {
	n      int
	first  time.Time
	locked time.Time // locked until
	// pending counts the attempts under way (Begin without End).
	pending int
}

// Lockout counts sign-in failures.
type Lockout struct {
	mu     sync.Mutex
	clock  clock.Clock
	policy LockoutPolicy
	m      map[string]*failures
}

// NewLockout returns a lockout with policy p timed by c.
func NewLockout(c clock.Clock, p LockoutPolicy) *Lockout {
	return &Lockout{clock: c, policy: p, m: map[string]*failures{}}
}

// AccountKey is the lockout key of a user name.
func AccountKey(user string) string { return "account " + user }

// SourceKey is the lockout key of a source address: the address for
// IPv4, its /64 for IPv6 (the block one host or site gets, whose every
// address would else have a count of its own). addr is kept as it is
// when it is not an IP address.
func SourceKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "source " + addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		return "source " + netip.PrefixFrom(ip, 64).Masked().String()
	}
	return "source " + ip.String()
}

// Policy returns the lockout's policy.
func (l *Lockout) Policy() LockoutPolicy { return l.policy }

// LockedUntil reports the latest time any of keys is locked until (zero
// when none is locked).
func (l *Lockout) LockedUntil(keys ...string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	var until time.Time
	for _, k := range keys {
		if f, ok := l.m[k]; ok && now.Before(f.locked) && f.locked.After(until) {
			until = f.locked
		}
	}
	return until
}

// Begin starts a sign-in attempt for keys and reports whether it may go
// on to check the password. It may not while a key is locked (until is
// when the lock ends), nor while a key's failures so far and its attempts
// already under way would reach MaxFailures if those failed (until is
// zero): attempts sent at once cannot check more passwords than the lock
// allows. Every Begin that returns true is followed by one End, after
// Fail or Succeed.
func (l *Lockout) Begin(keys ...string) (until time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for _, k := range keys {
		if f, ok := l.m[k]; ok && now.Before(f.locked) && f.locked.After(until) {
			until = f.locked
		}
	}
	if !until.IsZero() {
		return until, false
	}
	for _, k := range keys {
		f, ok := l.m[k]
		if !ok {
			continue
		}
		n := f.n
		if now.Sub(f.first) >= l.policy.Window {
			n = 0
		}
		if n+f.pending >= l.policy.MaxFailures {
			return time.Time{}, false
		}
	}
	l.pruneLocked(now)
	for _, k := range keys {
		f, ok := l.m[k]
		if !ok {
			f = &failures{first: now}
			l.m[k] = f
		}
		f.pending++
	}
	return time.Time{}, true
}

// End ends an attempt that Begin let go on.
func (l *Lockout) End(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for _, k := range keys {
		f, ok := l.m[k]
		if !ok || f.pending == 0 {
			continue
		}
		f.pending--
		if f.pending == 0 && f.n == 0 && !now.Before(f.locked) {
			delete(l.m, k)
		}
	}
}

// Fail records a failure for each key and returns the most failures of
// any key within the window, and the time the keys are locked until when
// this failure locked one.
func (l *Lockout) Fail(keys ...string) (int, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.pruneLocked(now)
	most := 0
	var until time.Time
	for _, k := range keys {
		f, ok := l.m[k]
		if !ok {
			f = &failures{first: now}
			l.m[k] = f
		}
		if now.Sub(f.first) >= l.policy.Window {
			f.n, f.first, f.locked = 0, now, time.Time{}
		}
		f.n++
		if f.n >= l.policy.MaxFailures {
			f.locked = now.Add(l.policy.LockFor)
			until = f.locked
			// The count starts again when the lock ends.
			f.n, f.first = 0, f.locked
		}
		most = max(most, f.n)
	}
	return most, until
}

// Succeed forgets the failures of keys: the account's after its
// sign-in. (A source address's failures stay until the window ends, so
// that a user who signs in cannot reset its address's count.)
func (l *Lockout) Succeed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		f, ok := l.m[k]
		switch {
		case !ok || l.clock.Now().Before(f.locked):
		case f.pending > 0:
			f.n = 0 // End forgets the key
		default:
			delete(l.m, k)
		}
	}
}

// Delay is how long the answer to a failure that made n failures waits.
func (l *Lockout) Delay(n int) time.Duration {
	return min(time.Duration(n)*l.policy.Delay, l.policy.MaxDelay)
}

// Refuse answers a failed sign-in that Fail counted as n failures,
// locking the keys until until (zero: not locked): it waits the delay
// with sleep (a failure that locked, which starts the count again, waits
// as the first) and returns the sign-in page's message.
func (l *Lockout) Refuse(n int, until time.Time, sleep func(time.Duration)) string {
	if d := l.Delay(max(n, 1)); d > 0 {
		sleep(d)
	}
	problem := "The user name or password is wrong."
	if !until.IsZero() {
		problem += " " + LockedText(until.Sub(l.clock.Now()))
	}
	return problem
}

func (l *Lockout) pruneLocked(now time.Time) {
	if len(l.m) < maxTracked {
		return
	}
	for k, f := range l.m {
		if now.Sub(f.first) >= l.policy.Window && !now.Before(f.locked) && f.pending == 0 {
			delete(l.m, k)
		}
	}
	for k, f := range l.m {
		if len(l.m) < maxTracked {
			break
		}
		if !now.Before(f.locked) && f.pending == 0 {
			delete(l.m, k)
		}
	}
}

// LockedText is the sign-in page's message while a lock holds for left.
func LockedText(left time.Duration) string {
	mins := int(left.Round(time.Minute) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	return fmt.Sprintf("Sign-in is locked after repeated failures; try again in %d minute(s).", mins)
}

// BusyText is the sign-in page's message when Begin refuses an attempt
// because others of the same user or address are being checked.
const BusyText = "Other sign-ins of this user or from this address are being checked; try again in a moment."
