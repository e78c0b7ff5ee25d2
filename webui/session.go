package webui

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"vxway/clock"
	"vxway/platform"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "vxsession"

// Session timeouts of the device: the idle timeout is the device's
// setting (xconfiguration SystemUnit SessionTimeout, 30 minutes by
// default); Options can fix both.
const (
	DefaultIdleTimeout = platform.DefaultSessionTimeout * time.Minute
	DefaultMaxLifetime = 8 * time.Hour
	// maxSessions bounds the sessions kept; signing in beyond it ends the
	// session idle the longest.
	maxSessions = 32
)

// session is one signed-in browser.
type session struct {
	id    string
	user  string
	csrf  string
	stamp string // the user's platform.Users.PasswordStamp at sign-in
	// created and seen bound the absolute lifetime and the idle time.
	created, seen time.Time
	// flash holds what the next page shows once: outcomes of a form and
	// the codes a reservation step produced.
	flash []flash
}

// flash is one message for the next page; Code, when set, is shown as a
// code the user copies (request, confirmation and return codes).
type flash struct {
	Text string
	Code string
	Bad  bool
}

// sessions are the signed-in browsers, in memory: a restart of init signs
// everybody out.
type sessions struct {
	mu    sync.Mutex
	m     map[string]*session
	clock clock.Clock
	// idle reports the idle timeout at the moment (the device's setting
	// can change while sessions live).
	idle func() time.Duration
	max  time.Duration
}

func newSessions(c clock.Clock, idle func() time.Duration, max time.Duration) *sessions {
	return &sessions{m: map[string]*session{}, clock: c, idle: idle, max: max}
}

// randomToken returns 32 random bytes, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for user.
func (s *sessions) create(user, stamp string) *session {
	idle := s.idle()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.expireLocked(now, idle)
	for len(s.m) >= maxSessions {
		var oldest *session
		for _, x := range s.m {
			if oldest == nil || x.seen.Before(oldest.seen) {
				oldest = x
			}
		}
		delete(s.m, oldest.id)
	}
	x := &session{id: randomToken(), user: user, csrf: randomToken(), stamp: stamp, created: now, seen: now}
	s.m[x.id] = x
	return x
}

// get returns the live session of id and marks it used; a session idle
// too long or past its lifetime is ended.
func (s *sessions) get(id string) (*session, bool) {
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
	x.seen = now
	return x, true
}

func (s *sessions) expired(x *session, now time.Time, idle time.Duration) bool {
	return now.Sub(x.seen) >= idle || now.Sub(x.created) >= s.max
}

func (s *sessions) expireLocked(now time.Time, idle time.Duration) {
	for id, x := range s.m {
		if s.expired(x, now, idle) {
			delete(s.m, id)
		}
	}
}

// drop ends session id.
func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// dropUser ends every session of user (the password changed).
func (s *sessions) dropUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, x := range s.m {
		if x.user == user {
			delete(s.m, id)
		}
	}
}

// addFlash queues a message for x's next page.
func (s *sessions) addFlash(x *session, f flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(x.flash) < 8 {
		x.flash = append(x.flash, f)
	}
}

// takeFlash returns and forgets x's queued messages.
func (s *sessions) takeFlash(x *session) []flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := x.flash
	x.flash = nil
	return f
}
