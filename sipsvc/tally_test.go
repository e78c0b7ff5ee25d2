package sipsvc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/sipclient"
)

// recount walks the tables: what the kept tally must equal.
func (s *Service) recount() tally {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t tally
	for _, b := range s.bindings {
		for _, c := range b.contacts {
			t.contact(c, 1)
		}
	}
	for _, d := range s.dialogs {
		t.dialog(d, 1)
	}
	return t
}

// TestTallyKept: registrations, a refresh that changes the license
// type, un-REGISTER of one contact and of all (Contact: *), expiry and
// calls leave the kept tally equal to a walk of the tables.
func TestTallyKept(t *testing.T) {
	s, clk := newUnitService(t, sipclient.Config{AuthenticationOff: true}, nil)
	reg := func(user, contact, ua string, expires int) {
		t.Helper()
		msg := fmt.Sprintf(registerMsg, 1, expires, "")
		msg = strings.ReplaceAll(msg, "alice@", user+"@")
		msg = strings.Replace(msg, "<sip:"+user+"@10.0.0.5:5062>", contact, 1)
		msg = strings.Replace(msg, "User-Agent: Cisco Room Kit", "User-Agent: "+ua, 1)
		tx := newRecordTx()
		s.onRegister(parseRequest(t, msg), tx)
		if len(tx.res) != 1 || tx.res[0].StatusCode != 200 {
			t.Fatalf("REGISTER %s %s: %v", user, contact, tx.res)
		}
	}
	check := func(step string, room, desktop, calls int) {
		t.Helper()
		s.mu.Lock()
		kept := s.t()
		s.mu.Unlock()
		if re := s.recount(); kept != re {
			t.Fatalf("%s: kept tally %+v, tables say %+v", step, kept, re)
		}
		if kept.room != room || kept.desktop != desktop || kept.calls != calls {
			t.Fatalf("%s: %+v, want %d room, %d desktop, %d calls", step, kept, room, desktop, calls)
		}
	}
	reg("alice", "<sip:alice@10.0.0.5:5062>", "Cisco Room Kit", 300)
	reg("alice", "<sip:alice@10.0.0.5:5063>", "Jabber", 300)
	reg("bob", "<sip:bob@10.0.0.6:5062>", "Jabber", 600)
	check("three registrations", 1, 2, 0)
	reg("alice", "<sip:alice@10.0.0.5:5062>", "Jabber", 300)
	check("a refresh as another type", 0, 3, 0)
	reg("alice", "<sip:alice@10.0.0.5:5063>", "Jabber", 0)
	check("un-REGISTER of one contact", 0, 2, 0)
	s.mu.Lock()
	s.putDialogLocked("c1", &dialog{neighbor: true, tls: true, expires: clk.Now().Add(400 * time.Second)})
	s.putDialogLocked("c2", &dialog{})
	s.putDialogLocked("c2", &dialog{tls: true})
	s.armLocked()
	s.mu.Unlock()
	check("two calls", 0, 2, 2)
	s.release("c2")
	check("a call released", 0, 2, 1)
	clk.Advance(301 * time.Second)
	check("alice's registration expired", 0, 1, 1)
	clk.Advance(100 * time.Second)
	check("the session timer ran out", 0, 1, 0)
	tx := newRecordTx()
	msg := strings.ReplaceAll(fmt.Sprintf(registerMsg, 2, 0, ""), "alice@", "bob@")
	s.onRegister(parseRequest(t, strings.Replace(msg, "<sip:bob@10.0.0.5:5062>", "*", 1)), tx)
	check("Contact: *", 0, 0, 0)
	if u := s.live.usage(); u != (agentclient.RealUsage{}) {
		t.Errorf("usage at the end: %+v", u)
	}
}
