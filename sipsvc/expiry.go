package sipsvc

import "time"

// armAtLocked makes sure the expiry timer fires by at.
func (s *Service) armAtLocked(at time.Time) {
	if s.closed || (!s.timerAt.IsZero() && !at.Before(s.timerAt)) {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timerAt = at
	s.timer = s.clk.AfterFunc(max(at.Sub(s.clk.Now()), 0), s.sweep)
}

// armLocked arms the timer for the earliest expiry of any contact or
// confirmed dialog.
func (s *Service) armLocked() {
	s.timerAt = time.Time{}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	var next time.Time
	for _, b := range s.bindings {
		for _, c := range b.contacts {
			if next.IsZero() || c.expires.Before(next) {
				next = c.expires
			}
		}
	}
	for _, d := range s.dialogs {
		if !d.expires.IsZero() && (next.IsZero() || d.expires.Before(next)) {
			next = d.expires
		}
	}
	if !next.IsZero() {
		s.armAtLocked(next)
	}
}

// sweep removes expired registrations and calls whose session timer ran
// out, which releases their licenses.
func (s *Service) sweep() {
	now := s.clk.Now()
	s.mu.Lock()
	gone := 0
	for aor, b := range s.bindings {
		for k, c := range b.contacts {
			if !c.expires.After(now) {
				s.dropContactLocked(aor, k)
				gone++
			}
		}
	}
	for id, d := range s.dialogs {
		if !d.expires.IsZero() && !d.expires.After(now) {
			s.dropDialogLocked(id)
			gone++
		}
	}
	s.armLocked()
	s.mu.Unlock()
	if gone > 0 {
		s.changed()
	}
}
