package sipsvc

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"vxway/agentclient"
)

// dialog is one call the proxy routes: the caller's leg (where its
// requests came from) and the callee's (where they went).
type dialog struct {
	callerTag  string
	callerSrc  string
	callerTP   string
	calleeDst  string
	calleeTP   string
	neighbor   bool // uses a Rich Media Session
	tls        bool // an encrypted session for export control
	confirmed  bool
	expires    time.Time // session timer; zero while not confirmed
	sessionFor time.Duration
}

// inviteTimeout bounds an INVITE transaction towards the callee.
const inviteTimeout = 3 * time.Minute

// target is where a request goes.
type target struct {
	uri       sip.Uri
	dst       string
	transport string
	tls       bool
	neighbor  bool
}

func (s *Service) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To() != nil && req.To().Params.Has("tag") {
		s.onReinvite(req, tx)
		return
	}
	callID := req.CallID()
	from := req.From()
	if callID == nil || from == nil {
		s.respond(tx, req, 400, "Bad Request", "INVITE needs Call-ID and From")
		return
	}
	s.mu.Lock()
	cfg := s.cfg
	fromAOR := strings.ToLower(from.Address.User + "@" + from.Address.Host)
	if cfg.Domain != "" {
		fromAOR = strings.ToLower(from.Address.User + "@" + cfg.Domain)
	}
	_, callerLocal := s.bindings[fromAOR]
	tgt, found := s.localTargetLocked(req.Recipient.User, cfg.Domain)
	_, dup := s.dialogs[callID.Value()]
	full := len(s.dialogs) >= MaxDialogs
	s.mu.Unlock()
	// A registered caller is local even when it shares the neighbour's
	// host (both behind one NAT, or on one test machine).
	callerNeighbor := !callerLocal && s.fromNeighbor(req.Source(), cfg.NeighborAddr())
	switch {
	case dup:
		s.respond(tx, req, 482, "Loop Detected", "a call with this Call-ID is already routed")
		return
	case full:
		s.count("Capacity")
		s.respond(tx, req, 503, "Too Many Calls", fmt.Sprintf("at most %d calls are routed at once", MaxDialogs))
		return
	case !callerLocal && !callerNeighbor:
		s.count("CallerUnknown")
		s.respond(tx, req, 403, "Caller Not Registered", "calls come from registered endpoints or the neighbour zone")
		return
	case !found && callerNeighbor:
		s.respond(tx, req, 404, "Not Found", req.Recipient.User+" is not registered here")
		return
	case !found:
		n := cfg.NeighborAddr()
		if n == "" {
			s.respond(tx, req, 404, "Not Found", req.Recipient.User+" is not registered here and no neighbour zone is set")
			return
		}
		u := *req.Recipient.Clone()
		host, port, _ := net.SplitHostPort(n)
		u.Host = host
		u.Port, _ = strconv.Atoi(port)
		tgt = target{uri: u, dst: n, transport: "UDP", neighbor: true}
	}
	callerTP := strings.ToUpper(req.Transport())
	d := &dialog{
		callerTag: from.Params.GetOr("tag", ""), callerSrc: req.Source(), callerTP: callerTP,
		calleeDst: tgt.dst, calleeTP: tgt.transport,
		neighbor: tgt.neighbor || callerNeighbor, tls: callerTP == "TLS" || tgt.tls,
		sessionFor: sessionExpires(req),
	}
	typ := ""
	if d.neighbor {
		typ = agentclient.TypeRMS
	}
	if typ != "" || d.tls {
		if r := s.admit(typ, d.tls, func() { s.putDialogLocked(callID.Value(), d) }); r != nil {
			s.log.Info("call refused", "call-id", callID.Value(), "code", r.code, "why", r.why)
			s.respond(tx, req, r.code, r.reason, r.why)
			return
		}
	} else {
		s.mu.Lock()
		s.putDialogLocked(callID.Value(), d)
		s.mu.Unlock()
	}
	s.relayInvite(req, tx, callID.Value(), d, tgt)
}

// localTargetLocked finds a registered contact of user: in the domain
// when one is set, else under any domain.
func (s *Service) localTargetLocked(user, domain string) (target, bool) {
	pick := func(b *binding) (target, bool) {
		for _, c := range b.contacts {
			return target{uri: *c.uri.Clone(), dst: c.source, transport: c.transport, tls: c.tls}, true
		}
		return target{}, false
	}
	if domain != "" {
		if b := s.bindings[strings.ToLower(user+"@"+domain)]; b != nil {
			return pick(b)
		}
		return target{}, false
	}
	for aor, b := range s.bindings {
		if u, _, _ := strings.Cut(aor, "@"); strings.EqualFold(u, user) {
			return pick(b)
		}
	}
	return target{}, false
}

// fromNeighbor reports whether src is the neighbour zone's host.
func (s *Service) fromNeighbor(src, neighbor string) bool {
	if neighbor == "" {
		return false
	}
	sh, _, err := net.SplitHostPort(src)
	nh, _, err2 := net.SplitHostPort(neighbor)
	if err != nil || err2 != nil {
		return false
	}
	if sh == nh {
		return true
	}
	ips, err := net.DefaultResolver.LookupHost(context.Background(), nh)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip == sh {
			return true
		}
	}
	return false
}

// sessionExpires is the Session-Expires of req (RFC 4028), or the
// default lifetime; it is at least 90 s.
func sessionExpires(req *sip.Request) time.Duration {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		h = req.GetHeader("x")
	}
	if h == nil {
		return DefaultSessionExpires
	}
	return parseSessionExpires(h.Value())
}

// parseSessionExpires reads "delta-seconds *(;param)"; anything else
// gives the default.
func parseSessionExpires(v string) time.Duration {
	v, _, _ = strings.Cut(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return DefaultSessionExpires
	}
	return min(max(time.Duration(n)*time.Second, 90*time.Second), 24*time.Hour)
}

// release ends a dialog and reports the freed licenses.
func (s *Service) release(callID string) {
	s.mu.Lock()
	ok := s.dropDialogLocked(callID)
	s.mu.Unlock()
	if ok {
		s.changed()
	}
}

// forward prepares a copy of req for dst over transport, the proxy's
// own Route entries taken off (the client options lower Max-Forwards
// and put the proxy's Via on top).
func forward(req *sip.Request, uri *sip.Uri, dst, transport string) *sip.Request {
	fwd := req.Clone()
	if uri != nil {
		fwd.Recipient = *uri.Clone()
	}
	stripOwnRoutes(fwd)
	fwd.SetDestination(dst)
	fwd.SetTransport(transport)
	return fwd
}

func (s *Service) relayInvite(req *sip.Request, tx sip.ServerTransaction, callID string, d *dialog, tgt target) {
	fwd := forward(req, &tgt.uri, tgt.dst, tgt.transport)
	ctx, cancel := context.WithTimeout(context.Background(), inviteTimeout)
	defer cancel()
	clTx, err := s.cl.TransactionRequest(ctx, fwd, sipgo.ClientRequestDecreaseMaxForward, s.addVia, s.recordRoute(req))
	if err != nil {
		s.release(callID)
		s.respond(tx, req, 502, "Bad Gateway", "the callee cannot be reached: "+err.Error())
		return
	}
	defer clTx.Terminate()
	tx.OnCancel(func(*sip.Request) {
		// Not inside the callback: sipgo holds the transaction's lock.
		go func() {
			s.release(callID)
			s.sendCancel(fwd)
		}()
	})
	for {
		select {
		case res, more := <-clTx.Responses():
			if !more {
				s.release(callID)
				return
			}
			res.RemoveHeader("Via")
			if res.StatusCode >= 200 && res.StatusCode < 300 {
				s.mu.Lock()
				if cur := s.dialogs[callID]; cur == d {
					d.confirmed = true
					d.expires = s.clk.Now().Add(d.sessionFor)
					s.armAtLocked(d.expires)
				}
				s.mu.Unlock()
			} else if res.StatusCode >= 300 {
				s.release(callID)
			}
			if err := tx.Respond(res); err != nil {
				s.log.Debug("relaying a response", "err", err)
			}
			if res.StatusCode >= 200 {
				return
			}
		case <-clTx.Done():
			s.release(callID)
			if err := clTx.Err(); err != nil {
				s.respond(tx, req, 408, "Request Timeout", "the callee did not answer")
			}
			return
		case <-tx.Done():
			s.mu.Lock()
			confirmed := s.dialogs[callID] != nil && s.dialogs[callID].confirmed
			s.mu.Unlock()
			if !confirmed {
				s.release(callID)
			}
			return
		}
	}
}

// sendCancel cancels the forwarded INVITE fwd.
func (s *Service) sendCancel(fwd *sip.Request) {
	c := sip.NewRequest(sip.CANCEL, *fwd.Recipient.Clone())
	c.AppendHeader(fwd.Via().Clone())
	for _, name := range []string{"From", "To", "Call-ID", "Route", "Max-Forwards"} {
		sip.CopyHeaders(name, fwd, c)
	}
	cseq := fwd.CSeq()
	c.AppendHeader(&sip.CSeqHeader{SeqNo: cseq.SeqNo, MethodName: sip.CANCEL})
	c.SetBody(nil)
	c.SetDestination(fwd.Destination())
	c.SetTransport(fwd.Transport())
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	keep := func(*sipgo.Client, *sip.Request) error { return nil }
	if _, err := s.cl.Do(ctx, c, keep); err != nil {
		s.log.Debug("cancelling", "err", err)
	}
}

// inDialogDest is where an in-dialog request from src goes: to the
// callee when it comes from the caller, else to the caller.
func (d *dialog) inDialogDest(req *sip.Request) (string, string) {
	if from := req.From(); from != nil && from.Params.GetOr("tag", "") == d.callerTag {
		return d.calleeDst, d.calleeTP
	}
	return d.callerSrc, d.callerTP
}

func (s *Service) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	s.onInDialog(req, tx)
}

// onInDialog relays BYE, re-INVITE, UPDATE and INFO along the dialog;
// BYE releases it, re-INVITE and UPDATE refresh its session timer.
func (s *Service) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	callID := req.CallID()
	if callID == nil {
		s.respond(tx, req, 400, "Bad Request", "no Call-ID")
		return
	}
	s.mu.Lock()
	d := s.dialogs[callID.Value()]
	var dst, tp string
	if d != nil {
		dst, tp = d.inDialogDest(req)
		if (req.Method == sip.INVITE || req.Method == sip.UPDATE) && d.confirmed {
			d.sessionFor = sessionExpires(req)
			d.expires = s.clk.Now().Add(d.sessionFor)
		}
	}
	s.mu.Unlock()
	if d == nil {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist", "no call with this Call-ID is routed here")
		return
	}
	if req.Method == sip.BYE {
		s.release(callID.Value())
	}
	fwd := forward(req, nil, dst, tp)
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	clTx, err := s.cl.TransactionRequest(ctx, fwd, sipgo.ClientRequestDecreaseMaxForward, s.addVia)
	if err != nil {
		s.respond(tx, req, 502, "Bad Gateway", "the other party cannot be reached: "+err.Error())
		return
	}
	defer clTx.Terminate()
	for {
		select {
		case res, more := <-clTx.Responses():
			if !more {
				return
			}
			res.RemoveHeader("Via")
			if err := tx.Respond(res); err != nil {
				s.log.Debug("relaying a response", "err", err)
			}
			if res.StatusCode >= 200 {
				return
			}
		case <-clTx.Done():
			if clTx.Err() != nil {
				s.respond(tx, req, 408, "Request Timeout", "the other party did not answer")
			}
			return
		case <-tx.Done():
			return
		}
	}
}

// onAck relays the ACK of a 2xx along the dialog.
func (s *Service) onAck(req *sip.Request, tx sip.ServerTransaction) {
	callID := req.CallID()
	if callID == nil {
		return
	}
	s.mu.Lock()
	d := s.dialogs[callID.Value()]
	var dst, tp string
	if d != nil {
		dst, tp = d.inDialogDest(req)
	}
	s.mu.Unlock()
	if d == nil {
		return
	}
	fwd := forward(req, nil, dst, tp)
	if err := s.cl.WriteRequest(fwd, sipgo.ClientRequestDecreaseMaxForward, s.addVia); err != nil {
		s.log.Debug("relaying ACK", "err", err)
	}
}

// onStrayResponse relays a 2xx answer to an INVITE of a routed call
// that no transaction waits for any more: the callee sends its 200 OK
// again until the ACK comes (RFC 3261 13.3.1.4), and the proxy's
// transaction ended with the first, which may have been lost on its way
// to the caller (a full socket buffer in a burst). The proxy's Via is
// taken off and the answer goes to where the caller's INVITE came from
// (RFC 3261 16.7: 2xx answers are forwarded statelessly).
func (s *Service) onStrayResponse(res *sip.Response) {
	cseq, id := res.CSeq(), res.CallID()
	if res.StatusCode < 200 || res.StatusCode >= 300 || cseq == nil || cseq.MethodName != sip.INVITE || id == nil {
		return
	}
	s.mu.Lock()
	d := s.dialogs[id.Value()]
	var dst, tp string
	if d != nil {
		dst, tp = d.callerSrc, d.callerTP
	}
	s.mu.Unlock()
	if d == nil {
		return
	}
	fwd := res.Clone()
	fwd.RemoveHeader("Via")
	fwd.SetDestination(dst)
	if err := s.ua.TransportLayer().WriteMsgTo(fwd, dst, tp); err != nil {
		s.log.Debug("relaying a repeated 200 OK", "err", err)
	}
}

// onCancel answers a CANCEL that matches no INVITE in progress.
func (s *Service) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist", "")
}
