package sipsvc

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"vxway/agentclient"
	"vxway/sipclient"
)

// binding is one address of record and its registered contacts.
type binding struct {
	aor      string
	contacts map[string]*contact // by contact URI
}

// contact is one registration: one endpoint, one license.
type contact struct {
	uri       sip.Uri
	source    string // where requests to it go: the address REGISTER came from (NAT)
	transport string
	tls       bool
	typ       string
	userAgent string
	expires   time.Time
}

func (s *Service) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	to := req.To()
	if to == nil || to.Address.User == "" {
		s.count("BadRequest")
		s.respond(tx, req, 400, "Bad Request", "REGISTER needs a To header with a user part")
		return
	}
	s.mu.Lock()
	cfg, creds := s.cfg, s.creds
	s.mu.Unlock()
	if cfg.Domain != "" && !strings.EqualFold(to.Address.Host, cfg.Domain) {
		s.count("Domain")
		s.respond(tx, req, 404, "Domain Not Served", fmt.Sprintf("the domain %s is not served here; register in %s", to.Address.Host, cfg.Domain))
		return
	}
	user := to.Address.User
	if !cfg.AuthenticationOff {
		if !s.authenticate(req, tx, user, cfg, creds) {
			return
		}
	}
	aor := strings.ToLower(user + "@" + to.Address.Host)
	if cfg.Domain != "" {
		aor = strings.ToLower(user + "@" + cfg.Domain)
	}

	ct := req.Contact()
	exp, err := requestExpires(req)
	if err != nil {
		s.count("BadRequest")
		s.respond(tx, req, 400, "Bad Request", err.Error())
		return
	}
	if ct == nil {
		s.answerBindings(req, tx, aor)
		return
	}
	if ct.Address.Wildcard {
		if exp != 0 {
			s.respond(tx, req, 400, "Bad Request", "Contact: * needs Expires: 0")
			return
		}
		s.mu.Lock()
		s.dropBindingLocked(aor)
		s.mu.Unlock()
		s.changed()
		s.answerBindings(req, tx, aor)
		return
	}
	if e, ok := ct.Params.Get("expires"); ok {
		n, err := strconv.Atoi(e)
		if err != nil || n < 0 {
			s.respond(tx, req, 400, "Bad Request", fmt.Sprintf("contact expires %q is not a number of seconds", e))
			return
		}
		exp = time.Duration(n) * time.Second
	}
	key := ct.Address.String()
	if exp == 0 {
		s.mu.Lock()
		s.dropContactLocked(aor, key)
		s.mu.Unlock()
		s.changed()
		s.answerBindings(req, tx, aor)
		return
	}
	if exp < MinExpires {
		s.respond(tx, req, 423, "Interval Too Brief", "", sip.NewHeader("Min-Expires", strconv.Itoa(int(MinExpires/time.Second))))
		return
	}
	exp = min(exp, MaxExpires)
	tp := strings.ToUpper(req.Transport())
	c := &contact{
		uri: *ct.Address.Clone(), source: req.Source(), transport: tp, tls: tp == "TLS" || tp == "WSS",
		userAgent: userAgent(req), expires: s.clk.Now().Add(exp),
	}
	c.typ = agentclient.TypeDesktop
	s.mu.Lock()
	if s.room.MatchString(c.userAgent) {
		c.typ = agentclient.TypeRoom
	}
	if old := s.bindings[aor].get(key); old != nil && old.tls == c.tls && old.typ == c.typ {
		// A refresh: same license, new expiry and address.
		*old = *c
		s.armAtLocked(c.expires)
		s.mu.Unlock()
		s.answerBindings(req, tx, aor)
		return
	}
	full := len(s.bindings) >= MaxBindings
	var many bool
	if b := s.bindings[aor]; b != nil {
		many = len(b.contacts) >= MaxContacts && b.contacts[key] == nil
	}
	s.mu.Unlock()
	if full || many {
		s.count("Capacity")
		s.respond(tx, req, 503, "Registrar Full", fmt.Sprintf("at most %d addresses of record, each with at most %d contacts, are registered", MaxBindings, MaxContacts))
		return
	}
	r := s.admit(c.typ, c.tls, func() {
		s.putContactLocked(aor, key, c)
		s.armAtLocked(c.expires)
	})
	if r != nil {
		s.log.Info("registration refused", "aor", aor, "code", r.code, "why", r.why)
		s.respond(tx, req, r.code, r.reason, r.why)
		return
	}
	s.answerBindings(req, tx, aor)
}

func (b *binding) get(key string) *contact {
	if b == nil {
		return nil
	}
	return b.contacts[key]
}

// answerBindings answers 200 OK with the AOR's contacts and their
// remaining lifetimes.
func (s *Service) answerBindings(req *sip.Request, tx sip.ServerTransaction, aor string) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	now := s.clk.Now()
	s.mu.Lock()
	if b := s.bindings[aor]; b != nil {
		for _, c := range b.contacts {
			h := &sip.ContactHeader{Address: *c.uri.Clone(), Params: sip.NewParams()}
			h.Params.Add("expires", strconv.Itoa(int(c.expires.Sub(now).Round(time.Second)/time.Second)))
			res.AppendHeader(h)
		}
	}
	s.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		s.log.Debug("answering REGISTER", "err", err)
	}
}

// authenticate checks the digest credentials of req for user, answering
// the challenge or the refusal itself; it reports whether req may go on.
func (s *Service) authenticate(req *sip.Request, tx sip.ServerTransaction, user string, cfg sipclient.Config, creds sipclient.Credentials) bool {
	now := s.clk.Now()
	realm := cfg.Realm()
	h := req.GetHeader("Authorization")
	if h == nil {
		s.respond(tx, req, 401, "Unauthorized", "", sip.NewHeader("WWW-Authenticate", challenge(realm, s.nonces.make(now), false)))
		return false
	}
	cr, err := digest.ParseCredentials(h.Value())
	if err != nil {
		s.count("BadCredentials")
		s.respond(tx, req, 400, "Bad Request", "the Authorization header is not a digest response")
		return false
	}
	if err := s.nonces.check(cr.Nonce, now); err != nil {
		s.respond(tx, req, 401, "Unauthorized", "", sip.NewHeader("WWW-Authenticate", challenge(realm, s.nonces.make(now), err == errStale)))
		return false
	}
	stored, ok := creds[cr.Username]
	if !ok || !strings.EqualFold(cr.Username, user) {
		s.count("BadCredentials")
		s.respond(tx, req, 403, "Forbidden", "no credential for "+user+"; add one with xcommand Credential Add")
		return false
	}
	if stored.Realm != realm || cr.Realm != realm {
		s.count("BadCredentials")
		s.respond(tx, req, 403, "Forbidden", fmt.Sprintf("the credential of %s was made for realm %s and the realm is %s; add it again with xcommand Credential Add", user, stored.Realm, realm))
		return false
	}
	ha1 := stored.HA1MD5
	if strings.EqualFold(cr.Algorithm, "SHA-256") {
		ha1 = stored.HA1SHA256
	}
	if err := verify(cr, string(req.Method), ha1); err != nil {
		s.count("BadCredentials")
		s.respond(tx, req, 403, "Forbidden", "wrong password for "+user)
		return false
	}
	return true
}

// requestExpires is the Expires header's lifetime, or the default.
func requestExpires(req *sip.Request) (time.Duration, error) {
	h := req.GetHeader("Expires")
	if h == nil {
		return defaultExpires, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("expires %q is not a number of seconds", h.Value())
	}
	return time.Duration(min(n, 1<<30)) * time.Second, nil
}

func userAgent(req *sip.Request) string {
	if h := req.GetHeader("User-Agent"); h != nil {
		v := h.Value()
		if len(v) > 256 {
			v = v[:256]
		}
		return v
	}
	return ""
}
