package licproto

import (
	"encoding/base64"
	"sync"
	"time"
)

// Replay is the manager's replay guard: it refuses requests whose timestamp
// is outside the window around the manager's clock, and nonces seen before
// within twice the window (older nonces cannot come back, their timestamps
// are stale). It is safe for concurrent use and holds at most one entry per
// nonce seen in the last two windows.
type Replay struct {
	window time.Duration

	mu   sync.Mutex
	cur  map[[24]byte]struct{}
	prev map[[24]byte]struct{}
	// rotated is when cur started; prev covers the window before it.
	rotated time.Time
}

// NewReplay returns a replay guard; window zero means DefaultWindow.
func NewReplay(window time.Duration) *Replay {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Replay{window: window, cur: map[[24]byte]struct{}{}, prev: map[[24]byte]struct{}{}}
}

// Check refuses a stale timestamp (stale_timestamp) or a nonce already
// seen (replay); otherwise it records the nonce. now is the manager's time.
func (g *Replay) Check(r *Request, now time.Time) error {
	d := r.Time().Sub(now)
	if d > g.window || d < -g.window {
		return errorf(CodeStaleTimestamp, "request timestamp %s is %s away from the manager's clock %s (allowed %s); check NTP on the device and the manager",
			r.Time().UTC().Format(time.RFC3339), d.Round(time.Second), now.UTC().Format(time.RFC3339), g.window)
	}
	// Nonces are kept decoded: a fixed-size key is a third of the memory
	// of the string at thousands of requests a second.
	var key [24]byte
	if n, err := base64.RawURLEncoding.Decode(key[:], []byte(r.Nonce)); err != nil || n != len(key) {
		return errorf(CodeBadRequest, "nonce is not %d bytes of base64url", len(key))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// Nonces are kept for at least 2*window: a generation is dropped only
	// when it is more than two windows old.
	if g.rotated.IsZero() {
		g.rotated = now
	}
	if now.Sub(g.rotated) >= 2*g.window {
		g.prev, g.cur, g.rotated = g.cur, map[[24]byte]struct{}{}, now
	}
	if _, ok := g.cur[key]; ok {
		return errorf(CodeReplay, "request nonce was already used: a replayed request")
	}
	if _, ok := g.prev[key]; ok {
		return errorf(CodeReplay, "request nonce was already used: a replayed request")
	}
	g.cur[key] = struct{}{}
	return nil
}
