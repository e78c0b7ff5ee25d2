package websession

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"vxway/clock"
)

// DefaultMaxSessions bounds the sessions a Sessions keeps when New is
// given no bound; signing in beyond it ends the session idle the longest.
const DefaultMaxSessions = 32

// Session is one signed-in browser.
type Session struct {
	ID   string
	User string
	// CSRF is the token every state-changing form of the session carries.
	CSRF string
	// Stamp identifies the user's password at sign-in: the owner of the
	// passwords ends the session when it no longer matches.
	Stamp string
	// Created and Seen bound the absolute lifetime and the idle time.
	Created, Seen time.Time
	// flash holds what the next page shows once: outcomes of a form and
	// the codes a step produced.
	flash []Flash
}

// Flash is one message for the next page; Code, when set, is shown as a
// code the user copies (request, confirmation, authorization and return
// codes, a new token).
type Flash struct {
	Text string
	Code string
	Bad  bool
}

// Sessions are the signed-in browsers, in memory: a restart of the
// program signs everybody out.
type Sessions struct {
	mu    sync.Mutex
	m     map[string]*Session
	clock clock.Clock
	// idle reports the idle timeout at the moment (a setting can change
	// while sessions live).
	idle  func() time.Duration
	max   time.Duration
	limit int
}

// New returns an empty set of sessions timed by c: a session ends when
// unused for idle() or max after it started; at most limit sessions live
// at once (DefaultMaxSessions when limit is 0).
func New(c clock.Clock, idle func() time.Duration, max time.Duration, limit int) *Sessions {
	if limit <= 0 {
		limit = DefaultMaxSessions
	}
	return &Sessions{m: map[string]*Session{}, clock: c, idle: idle, max: max, limit: limit}
}

// RandomToken returns 32 random bytes, base64url encoded.
func RandomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create starts a session for user whose password has stamp.
func (s *Sessions) Create(user, stamp string) *Session {
	idle := s.idle()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.expireLocked(now, idle)
	for len(s.m) >= s.limit {
		var oldest *Session
		for _, x := range s.m {
			if oldest == nil || x.Seen.Before(oldest.Seen) {
				oldest = x
			}
		}
		delete(s.m, oldest.ID)
	}
	x := &Session{ID: RandomToken(), User: user, CSRF: RandomToken(), Stamp: stamp, Created: now, Seen: now}
	s.m[x.ID] = x
	return x
}

// Get returns the live session of id and marks it used; a session idle
// too long or past its lifetime is ended.
func (s *Sessions) Get(id string) (*Session, bool) {
	idle := s.idle()
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[id]
	if !ok {
		return nil, false
	}
	now := s.clock.Now()
	if s.expired(x, now, idle) {
		delete(s.m, id)
		return nil, false
	}
	x.Seen = now
	return x, true
}

func (s *Sessions) expired(x *Session, now time.Time, idle time.Duration) bool {
	return now.Sub(x.Seen) >= idle || now.Sub(x.Created) >= s.max
}

func (s *Sessions) expireLocked(now time.Time, idle time.Duration) {
	for id, x := range s.m {
		if s.expired(x, now, idle) {
			delete(s.m, id)
		}
	}
}

// Drop ends session id.
func (s *Sessions) Drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// DropUser ends every session of user (the password changed, the user
// was deleted).
func (s *Sessions) DropUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, x := range s.m {
		if x.User == user {
			delete(s.m, id)
		}
	}
}

// AddFlash queues a message for x's next page.
func (s *Sessions) AddFlash(x *Session, f Flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(x.flash) < 8 {
		x.flash = append(x.flash, f)
	}
}

// TakeFlash returns and forgets x's queued messages.
func (s *Sessions) TakeFlash(x *Session) []Flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := x.flash
	x.flash = nil
	return f
}
