package sipsvc

import "vxway/agentclient"

// tally is the live usage: registrations per type, neighbour calls
// (Rich Media Sessions) and encrypted sessions (TLS registrations and
// calls with a TLS leg). The service keeps it as the tables change, so
// that an admission does not walk every registration.
type tally struct {
	room, desktop, rms, encrypted int
	calls, encCalls, encRegs      int
}

func (t tally) usage() agentclient.RealUsage {
	return agentclient.RealUsage{Room: t.room, Desktop: t.desktop, RMS: t.rms, Encrypted: t.encrypted}
}

// contact adds (n = 1) or takes away (n = -1) one registration.
func (t *tally) contact(c *contact, n int) {
	if c.typ == agentclient.TypeRoom {
		t.room += n
	} else {
		t.desktop += n
	}
	if c.tls {
		t.encRegs += n
	}
	t.encrypted = t.encRegs + t.encCalls
}

// dialog adds (n = 1) or takes away (n = -1) one call.
func (t *tally) dialog(d *dialog, n int) {
	t.calls += n
	if d.neighbor {
		t.rms += n
	}
	if d.tls {
		t.encCalls += n
	}
	t.encrypted = t.encRegs + t.encCalls
}

// t is the tally; the caller holds mu.
func (s *Service) t() tally { return s.live }

// putContactLocked registers c under aor and key, in place of any
// contact there.
func (s *Service) putContactLocked(aor, key string, c *contact) {
	b := s.bindings[aor]
	if b == nil {
		b = &binding{aor: aor, contacts: map[string]*contact{}}
		s.bindings[aor] = b
	}
	if old := b.contacts[key]; old != nil {
		s.live.contact(old, -1)
	}
	b.contacts[key] = c
	s.live.contact(c, 1)
}

// dropContactLocked removes one contact of aor, and the binding with
// its last contact.
func (s *Service) dropContactLocked(aor, key string) {
	b := s.bindings[aor]
	if b == nil {
		return
	}
	if c := b.contacts[key]; c != nil {
		s.live.contact(c, -1)
		delete(b.contacts, key)
	}
	if len(b.contacts) == 0 {
		delete(s.bindings, aor)
	}
}

// dropBindingLocked removes every contact of aor.
func (s *Service) dropBindingLocked(aor string) {
	if b := s.bindings[aor]; b != nil {
		for _, c := range b.contacts {
			s.live.contact(c, -1)
		}
		delete(s.bindings, aor)
	}
}

// putDialogLocked routes the call id as d, in place of any call there.
func (s *Service) putDialogLocked(id string, d *dialog) {
	if old := s.dialogs[id]; old != nil {
		s.live.dialog(old, -1)
	}
	s.dialogs[id] = d
	s.live.dialog(d, 1)
}

// dropDialogLocked ends the call id and reports whether there was one.
func (s *Service) dropDialogLocked(id string) bool {
	d := s.dialogs[id]
	if d == nil {
		return false
	}
	s.live.dialog(d, -1)
	delete(s.dialogs, id)
	return true
}
