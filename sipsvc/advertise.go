package sipsvc

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"vxway/sipclient"
)

// Where the advertised address comes from (xstatus SIP Advertise
// Source).
const (
	AdvertiseFromConfig     = "configuration"
	AdvertiseFromHypervisor = "hypervisor"
	AdvertiseFromListening  = "listening"
)

// routeMark is the URI parameter that marks the proxy's own
// Record-Route entries, so that it knows them again in a Route set.
const routeMark = "vxway"

// advert is the address the proxy writes into Record-Route and Via:
// where SIP peers reach it, which differs from where it listens behind
// a NAT or port forward (QEMU's user network under vxway run).
type advert struct {
	host    string // "" : the local address facing the peer
	port    int    // UDP and TCP; 0: the listening port
	tlsPort int    // 0: the listening port
	source  string
}

// advertOf picks the advertised address: the setting, else the hint
// (sipserver --advertise, which init sets from the hypervisor's OEM
// string), else none.
func advertOf(cfg sipclient.Config, hint string) (advert, error) {
	raw, src := cfg.Advertise, AdvertiseFromConfig
	if raw == "" {
		raw, src = hint, AdvertiseFromHypervisor
	}
	if raw == "" {
		return advert{source: AdvertiseFromListening}, nil
	}
	a, err := sipclient.ParseAdvertise(raw)
	if err != nil {
		return advert{}, err
	}
	ad := advert{host: a.Host, port: a.Port, source: src}
	switch {
	case src == AdvertiseFromConfig && cfg.AdvertiseTLSPort != 0:
		ad.tlsPort = cfg.AdvertiseTLSPort
	case a.Port != 0 && a.Port < 65535:
		// vxway run forwards P and P+1; a static NAT of 5060 keeps 5061.
		ad.tlsPort = a.Port + 1
	}
	return ad, nil
}

// sentBy is the host and port the proxy is reached at over transport
// tp by the peer at host:port peer.
func (s *Service) sentBy(tp, peer string) (string, int) {
	tp = sip.NetworkToLower(tp)
	s.mu.Lock()
	a := s.adv
	s.mu.Unlock()
	port := a.port
	if tp == "tls" || tp == "wss" {
		port = a.tlsPort
	}
	if port == 0 {
		if ports := s.ua.TransportLayer().ListenPorts(tp); len(ports) > 0 {
			port = ports[0]
		}
	}
	host := a.host
	if host == "" {
		host = s.localHost(peer)
	}
	return host, port
}

// localHost is this machine's address facing peer: the source address
// the kernel picks for it (a UDP socket that sends nothing), or the
// loopback address when no route is found. Answers are kept a minute
// per peer host (at most maxLocalHosts, then forgotten at once), so an
// address change is picked up: a socket per forwarded request costs
// more than the rest of its routing.
func (s *Service) localHost(peer string) string {
	ph, _, err := net.SplitHostPort(peer)
	if err != nil {
		ph = peer
	}
	now := s.clk.Now()
	s.lhMu.Lock()
	e, ok := s.localHosts[ph]
	s.lhMu.Unlock()
	if ok && now.Sub(e.at) < time.Minute {
		return e.host
	}
	h := "127.0.0.1"
	if c, err := net.Dial("udp", net.JoinHostPort(ph, "5060")); err == nil {
		if lh, _, err := net.SplitHostPort(c.LocalAddr().String()); err == nil {
			h = lh
		}
		c.Close()
	}
	s.lhMu.Lock()
	if len(s.localHosts) >= maxLocalHosts {
		clear(s.localHosts)
	}
	s.localHosts[ph] = localAddr{h, now}
	s.lhMu.Unlock()
	return h
}

// localAddr is one of localHost's answers and when it was found.
type localAddr struct {
	host string
	at   time.Time
}

// maxLocalHosts bounds localHost's memory of peers.
const maxLocalHosts = 1024

// routeURI is one Record-Route entry of the proxy.
func routeURI(host string, port int, tp string) sip.Uri {
	return sip.Uri{Host: host, Port: port, UriParams: sip.HeaderParams{
		{K: "transport", V: sip.NetworkToLower(tp)}, {K: "lr", V: ""}, {K: routeMark, V: ""}}}
}

// recordRoute puts the proxy in the route set of the dialog that the
// forwarded INVITE fwd (received as in) starts: one entry when both
// legs reach the proxy at the same URI, else two (RFC 5658), the
// callee's above the caller's, so that each side sends its in-dialog
// requests to the address and transport it reaches the proxy by.
func (s *Service) recordRoute(in *sip.Request) sipgo.ClientRequestOption {
	return func(c *sipgo.Client, fwd *sip.Request) error {
		ch, cp := s.sentBy(in.Transport(), in.Source())
		caller := routeURI(ch, cp, in.Transport())
		fh, fp := s.sentBy(fwd.Transport(), fwd.Destination())
		callee := routeURI(fh, fp, fwd.Transport())
		if caller.String() != callee.String() {
			fwd.PrependHeader(&sip.RecordRouteHeader{Address: caller})
		}
		fwd.PrependHeader(&sip.RecordRouteHeader{Address: callee})
		return nil
	}
}

// addVia puts the proxy's Via on top of fwd with the advertised
// sent-by, so that responses come back through a NAT or forward, and
// fills rport/received of the previous hop's Via (RFC 3581).
func (s *Service) addVia(c *sipgo.Client, fwd *sip.Request) error {
	host, port := s.sentBy(fwd.Transport(), fwd.Destination())
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: fwd.Transport(), Host: host, Port: port}
	via.Params.Add("branch", sip.GenerateBranchN(16))
	if prev := fwd.Via(); prev != nil && prev.Params.Has("rport") {
		if h, p, err := net.SplitHostPort(fwd.Source()); err == nil {
			prev.Params.Add("rport", p)
			prev.Params.Add("received", h)
		}
	}
	fwd.PrependHeader(via)
	return nil
}

// stripOwnRoutes takes the proxy's own entries off the top of req's
// Route set (RFC 3261 16.4: one, or two when it double-record-routed)
// and keeps any others in order.
func stripOwnRoutes(req *sip.Request) {
	hs := req.GetHeaders("Route")
	if len(hs) == 0 {
		return
	}
	var entries []string
	for _, h := range hs {
		for _, e := range strings.Split(h.Value(), ",") {
			if e = strings.TrimSpace(e); e != "" {
				entries = append(entries, e)
			}
		}
	}
	for len(entries) > 0 && ownRoute(entries[0]) {
		entries = entries[1:]
	}
	for req.RemoveHeader("Route") {
	}
	if len(entries) > 0 {
		req.AppendHeader(sip.NewHeader("Route", strings.Join(entries, ", ")))
	}
}

// ownRoute reports whether a Route entry ("<sip:...>") is the proxy's.
func ownRoute(e string) bool {
	e = strings.TrimSuffix(strings.TrimPrefix(e, "<"), ">")
	var u sip.Uri
	if err := sip.ParseUri(e, &u); err != nil {
		return false
	}
	return u.UriParams.Has(routeMark)
}

// advertised is the advertised UDP/TCP and TLS host:port for xstatus
// SIP, "" when the proxy uses the local address facing each peer.
func (s *Service) advertised() (string, string, string) {
	s.mu.Lock()
	a := s.adv
	s.mu.Unlock()
	if a.host == "" {
		return "", "", a.source
	}
	uh, up := s.sentBy("udp", "")
	th, tp := s.sentBy("tls", "")
	return net.JoinHostPort(uh, strconv.Itoa(up)), net.JoinHostPort(th, strconv.Itoa(tp)), a.source
}
