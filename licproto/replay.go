package licproto

import (
	"encoding/base64"
	"sync"
	"time"
)

// DefaultReplayLimit is how many nonces a Replay holds by default: about
// 40 MB, or 1,700 requests a second for the ten minutes a nonce is held.
const DefaultReplayLimit = 1 << 20

// Replay is the manager's replay guard: it refuses requests whose timestamp
// is outside the window around the manager's clock, and nonces seen before
// while their timestamp is still within it. Nonces are kept by their
// request's timestamp, one group per minute, and a group is dropped as
// soon as every timestamp in it is stale (no request carrying it would be
// accepted anyway), so the guard holds the nonces of at most the two
// windows of fresh timestamps. It never drops a nonce that is still
// fresh: when it holds its limit, it refuses new requests (busy) until
// groups expire. It is safe for concurrent use.
type Replay struct {
	window time.Duration
	limit  int
	span   int64 // group width, ms

	mu     sync.Mutex
	groups map[int64]map[[24]byte]struct{} // timestamp/span -> nonces
	n      int
	// floor is the oldest timestamp (ms) any expiry judged fresh: the
	// groups before it are dropped, so their timestamps stay refused even
	// if the clock steps back.
	floor int64
}

// NewReplay returns a replay guard holding at most limit nonces; window
// zero means DefaultWindow, limit zero DefaultReplayLimit.
func NewReplay(window time.Duration, limit int) *Replay {
	if window <= 0 {
		window = DefaultWindow
	}
	if limit <= 0 {
		limit = DefaultReplayLimit
	}
	span := max(window.Milliseconds()/5, 1)
	return &Replay{window: window, limit: limit, span: span, groups: map[int64]map[[24]byte]struct{}{}}
}

// Len reports how many nonces the guard holds.
func (g *Replay) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// Fresh refuses a stale timestamp (stale_timestamp) or a nonce already
// seen (replay) without recording anything: the cheap checks to run
// before verifying a signature.
func (g *Replay) Fresh(r *Request, now time.Time) error {
	key, err := g.checkTime(r, now)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.dropped(r); err != nil {
		return err
	}
	if _, ok := g.groups[r.Timestamp/g.span][key]; ok {
		return errReplay()
	}
	return nil
}

// Check refuses a stale timestamp (stale_timestamp) or a nonce already
// seen (replay); otherwise it records the nonce. When the guard holds its
// limit of fresh nonces it refuses the request (busy) instead. now is the
// manager's time.
func (g *Replay) Check(r *Request, now time.Time) error {
	key, err := g.checkTime(r, now)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	if err := g.dropped(r); err != nil {
		return err
	}
	b := r.Timestamp / g.span
	if _, ok := g.groups[b][key]; ok {
		return errReplay()
	}
	if g.n >= g.limit {
		return errorf(CodeBusy, "the manager is holding the most requests its replay guard keeps (%d within %s); try again in a minute", g.limit, 2*g.window)
	}
	m := g.groups[b]
	if m == nil {
		m = map[[24]byte]struct{}{}
		g.groups[b] = m
	}
	m[key] = struct{}{}
	g.n++
	return nil
}

func errReplay() error {
	return errorf(CodeReplay, "request nonce was already used: a replayed request")
}

// checkTime checks the timestamp and returns the decoded nonce.
func (g *Replay) checkTime(r *Request, now time.Time) ([24]byte, error) {
	var key [24]byte
	d := r.Time().Sub(now)
	if d > g.window || d < -g.window {
		return key, errorf(CodeStaleTimestamp, "request timestamp %s is %s away from the manager's clock %s (allowed %s); check NTP on the device and the manager",
			r.Time().UTC().Format(time.RFC3339), d.Round(time.Second), now.UTC().Format(time.RFC3339), g.window)
	}
	// Nonces are kept decoded: a fixed-size key is a third of the memory
	// of the string at thousands of requests a second.
	if n, err := base64.RawURLEncoding.Decode(key[:], []byte(r.Nonce)); err != nil || n != len(key) {
		return key, errorf(CodeBadRequest, "nonce is not %d bytes of base64url", len(key))
	}
	return key, nil
}

// dropped refuses a timestamp whose group was dropped: the clock stepped
// back since.
func (g *Replay) dropped(r *Request) error {
	if (r.Timestamp/g.span+1)*g.span-1 < g.floor {
		return errorf(CodeStaleTimestamp, "request timestamp %s is older than the manager has seen fresh (its clock stepped back); check NTP on the device and the manager",
			r.Time().UTC().Format(time.RFC3339))
	}
	return nil
}

// expire drops the groups whose every timestamp is stale at now: the
// latest timestamp of group b is (b+1)*span-1 ms.
func (g *Replay) expire(now time.Time) {
	oldest := now.Add(-g.window).UnixMilli()
	if oldest <= g.floor {
		return
	}
	g.floor = oldest
	for b, m := range g.groups {
		if (b+1)*g.span-1 < oldest {
			g.n -= len(m)
			delete(g.groups, b)
		}
	}
}
