package sipsvc

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/sipclient"
)

// recordTx is a server transaction that records the responses.
type recordTx struct {
	res  []*sip.Response
	done chan struct{}
}

func newRecordTx() *recordTx                           { return &recordTx{done: make(chan struct{})} }
func (x *recordTx) Terminate()                         {}
func (x *recordTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (x *recordTx) Done() <-chan struct{}              { return x.done }
func (x *recordTx) Err() error                         { return nil }
func (x *recordTx) Respond(r *sip.Response) error      { x.res = append(x.res, r); return nil }
func (x *recordTx) Acks() <-chan *sip.Request          { return nil }
func (x *recordTx) OnCancel(sip.FnTxCancel) bool       { return true }

// countingLicensing admits everything and records the last report.
type countingLicensing struct{ last agentclient.RealUsage }

func (l *countingLicensing) ReportUsage(_ context.Context, u agentclient.RealUsage) (agentclient.Admitted, error) {
	l.last = u
	return agentclient.Admitted{Admitted: u.Admit != nil}, nil
}

func (l *countingLicensing) Admit(_ context.Context, a agentclient.Admissions) (agentclient.AdmissionsAnswer, error) {
	l.last = a.Usage
	return agentclient.AdmissionsAnswer{Results: make([]agentclient.AdmissionResult, len(a.Admit))}, nil
}

func newUnitService(t testing.TB, cfg sipclient.Config, users map[string]string) (*Service, *clock.Fake) {
	t.Helper()
	root := t.TempDir()
	if err := sipclient.SaveConfig(root, cfg); err != nil {
		t.Fatal(err)
	}
	for n, pw := range users {
		cr, err := sipclient.NewCredential(n, cfg.Realm(), pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := sipclient.UpdateCredentials(root, func(c sipclient.Credentials) error { c[n] = cr; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	clk := clock.NewFake(t0)
	s, err := New(Options{Root: root, Clock: clk, Licensing: &countingLicensing{}})
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func parseRequest(t testing.TB, raw string) *sip.Request {
	t.Helper()
	m, err := sip.NewParser().ParseSIP([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*sip.Request)
	req.SetSource("192.0.2.7:5062")
	req.SetTransport("UDP")
	return req
}

const registerMsg = `REGISTER sip:vx.example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-1;rport
From: <sip:alice@vx.example.com>;tag=1
To: <sip:alice@vx.example.com>
Call-ID: c1
CSeq: %d REGISTER
Contact: <sip:alice@10.0.0.5:5062>
Expires: %d
User-Agent: Cisco Room Kit
%sContent-Length: 0

`

// TestDigestRegistration: the challenge, a good response, a wrong
// password and a stale nonce, the registration's expiry by the clock.
func TestDigestRegistration(t *testing.T) {
	s, clk := newUnitService(t, sipclient.Config{Domain: "vx.example.com"}, map[string]string{"alice": "alicepw1"})
	send := func(cseq, expires int, auth string) *sip.Response {
		t.Helper()
		tx := newRecordTx()
		s.onRegister(parseRequest(t, fmt.Sprintf(registerMsg, cseq, expires, auth)), tx)
		if len(tx.res) != 1 {
			t.Fatalf("%d responses", len(tx.res))
		}
		return tx.res[0]
	}
	answer := func(res *sip.Response, password string) string {
		chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
		if err != nil {
			t.Fatal(err)
		}
		cr, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:vx.example.com", Username: "alice", Password: password, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: " + cr.String() + "\n"
	}
	res := send(1, 300, "")
	if res.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
	}
	if bad := send(2, 300, answer(res, "wrong")); bad.StatusCode != 403 || !strings.Contains(bad.GetHeader("Warning").Value(), "wrong password") {
		t.Fatalf("wrong password: %s", bad.StartLine())
	}
	if st := s.Status(); st.Room != 0 {
		t.Fatalf("a refused REGISTER counted: %+v", st)
	}
	if ok := send(3, 300, answer(res, "alicepw1")); ok.StatusCode != 200 {
		t.Fatalf("good response: %s %v", ok.StartLine(), ok.GetHeader("Warning"))
	}
	if st := s.Status(); st.Room != 1 {
		t.Fatalf("after registering: %+v, want 1 room", st)
	}
	clk.Advance(nonceLife + time.Second)
	if stale := send(4, 300, answer(res, "alicepw1")); stale.StatusCode != 401 || !strings.Contains(stale.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("stale nonce: %s", stale.StartLine())
	}
	clk.Advance(300 * time.Second)
	if st := s.Status(); st.Room != 0 {
		t.Fatalf("after expiry: %+v, want none", st)
	}
}

func TestRegisterRefusals(t *testing.T) {
	s, _ := newUnitService(t, sipclient.Config{Domain: "vx.example.com", AuthenticationOff: true}, nil)
	tests := []struct {
		name string
		msg  string
		code int
	}{
		{"other domain", strings.ReplaceAll(fmt.Sprintf(registerMsg, 1, 300, ""), "@vx.example.com", "@other.example"), 404},
		{"too brief", fmt.Sprintf(registerMsg, 1, 10, ""), 423},
		{"bad expires", strings.Replace(fmt.Sprintf(registerMsg, 1, 300, ""), "Expires: 300", "Expires: soon", 1), 400},
		{"open registration", fmt.Sprintf(registerMsg, 1, 300, ""), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := newRecordTx()
			s.onRegister(parseRequest(t, tt.msg), tx)
			if len(tx.res) != 1 || tx.res[0].StatusCode != tt.code {
				t.Fatalf("answers %v, want %d", tx.res, tt.code)
			}
		})
	}
}

func TestSessionExpires(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"1800":              1800 * time.Second,
		"600;refresher=uac": 600 * time.Second,
		"30":                90 * time.Second,
		"x":                 DefaultSessionExpires,
		"99999999":          24 * time.Hour,
		"":                  DefaultSessionExpires,
	} {
		if got := parseSessionExpires(v); got != want {
			t.Errorf("parseSessionExpires(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestWarningEscapes(t *testing.T) {
	if got := warning("a \"b\"\r\nc\\"); got != `399 vxway "a \"b\"  c\\"` {
		t.Errorf("warning = %s", got)
	}
}

// FuzzRegister feeds any message the SIP parser accepts to the
// registrar: it never panics and always answers exactly once.
func FuzzRegister(f *testing.F) {
	f.Add(fmt.Sprintf(registerMsg, 1, 300, ""))
	f.Add(fmt.Sprintf(registerMsg, 1, 0, ""))
	f.Add(strings.Replace(fmt.Sprintf(registerMsg, 1, 0, ""), "<sip:alice@10.0.0.5:5062>", "*", 1))
	f.Add(fmt.Sprintf(registerMsg, 2, 300, `Authorization: Digest username="alice", realm="vx.example.com", nonce="AAAA", uri="sip:vx.example.com", response="00", qop=auth, nc=00000001, cnonce="x"`+"\n"))
	s, _ := newUnitService(f, sipclient.Config{Domain: "vx.example.com"}, map[string]string{"alice": "alicepw1"})
	open, _ := newUnitService(f, sipclient.Config{AuthenticationOff: true}, nil)
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := sip.NewParser().ParseSIP([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("192.0.2.7:5062")
		for _, svc := range []*Service{s, open} {
			tx := newRecordTx()
			svc.onRegister(req, tx)
			if len(tx.res) != 1 {
				t.Fatalf("%d answers to\n%s", len(tx.res), raw)
			}
		}
	})
}

// FuzzNonce: only nonces made here pass the check.
func FuzzNonce(f *testing.F) {
	n := nonces{key: []byte("0123456789abcdef0123456789abcdef")}
	f.Add(n.make(t0))
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		if n.check(s, t0) == nil && s != n.make(t0) {
			// Another encoding of the same bytes would be a second
			// spelling; base64 raw URL encoding has one per value
			// except trailing bits, which DecodeString refuses.
			t.Fatalf("accepted a foreign nonce %q", s)
		}
	})
}

// TestContactsBounded: one address of record holds at most MaxContacts
// contacts; a refresh of one of them still goes through.
func TestContactsBounded(t *testing.T) {
	s, _ := newUnitService(t, sipclient.Config{AuthenticationOff: true}, nil)
	reg := func(port int) int {
		tx := newRecordTx()
		msg := strings.Replace(fmt.Sprintf(registerMsg, port, 300, ""), "10.0.0.5:5062>", fmt.Sprintf("10.0.0.5:%d>", port), 1)
		s.onRegister(parseRequest(t, msg), tx)
		return tx.res[0].StatusCode
	}
	for i := range MaxContacts {
		if code := reg(6000 + i); code != 200 {
			t.Fatalf("contact %d: %d", i+1, code)
		}
	}
	if code := reg(7000); code != 503 {
		t.Errorf("contact %d: %d, want 503", MaxContacts+1, code)
	}
	if code := reg(6000); code != 200 {
		t.Errorf("refresh of the first contact: %d, want 200", code)
	}
	if st := s.Status(); st.Room != MaxContacts {
		t.Errorf("%d registrations, want %d", st.Room, MaxContacts)
	}
}
