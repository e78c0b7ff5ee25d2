package sipsvc

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"vxway/sipclient"
)

func TestAdvertOf(t *testing.T) {
	tests := []struct {
		name string
		cfg  sipclient.Config
		hint string
		want advert
	}{
		{"nothing", sipclient.Config{}, "", advert{source: AdvertiseFromListening}},
		{"hint with port", sipclient.Config{}, "127.0.0.1:5070", advert{host: "127.0.0.1", port: 5070, tlsPort: 5071, source: AdvertiseFromHypervisor}},
		{"setting over hint", sipclient.Config{Advertise: "sip.example.com"}, "127.0.0.1:5070", advert{host: "sip.example.com", source: AdvertiseFromConfig}},
		{"setting with TLS port", sipclient.Config{Advertise: "192.0.2.1:5060", AdvertiseTLSPort: 5081}, "", advert{host: "192.0.2.1", port: 5060, tlsPort: 5081, source: AdvertiseFromConfig}},
		{"TLS port of the hint is its port plus one", sipclient.Config{AdvertiseTLSPort: 5081}, "127.0.0.1:5070", advert{host: "127.0.0.1", port: 5070, tlsPort: 5071, source: AdvertiseFromHypervisor}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := advertOf(tt.cfg, tt.hint)
			if err != nil || got != tt.want {
				t.Fatalf("advertOf = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := advertOf(sipclient.Config{}, "a b:1"); err == nil {
		t.Error("a bad hint was taken")
	}
}

func TestStripOwnRoutes(t *testing.T) {
	u, ut := routeURI("127.0.0.1", 5070, "udp"), routeURI("127.0.0.1", 5071, "tls")
	own, ownTLS := "<"+u.String()+">", "<"+ut.String()+">"
	other := "<sip:proxy.example.com;lr>"
	tests := []struct {
		name   string
		routes []string // Route header lines
		want   string   // the Route left, "" for none
	}{
		{"ours only", []string{own}, ""},
		{"both of ours in one line", []string{own + ", " + ownTLS}, ""},
		{"both of ours in two lines", []string{own, ownTLS}, ""},
		{"ours then another", []string{own + ", " + other}, other},
		{"another first is kept whole", []string{other, own}, other + ", " + own},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sip.NewRequest(sip.BYE, sip.Uri{Host: "10.0.0.1"})
			for _, r := range tt.routes {
				req.AppendHeader(sip.NewHeader("Route", r))
			}
			stripOwnRoutes(req)
			var got []string
			for _, h := range req.GetHeaders("Route") {
				got = append(got, h.Value())
			}
			if g := strings.Join(got, ", "); g != tt.want {
				t.Errorf("Route after = %q, want %q", g, tt.want)
			}
		})
	}
}

// TestRecordRoute: one entry when both legs reach the proxy at the same
// URI, two when the transports differ (the callee's on top), each with
// the advertised host and the port of its transport.
func TestRecordRoute(t *testing.T) {
	s, _ := newUnitService(t, sipclient.Config{Advertise: "127.0.0.1:5070"}, nil)
	rr := func(inTP, outTP string) []string {
		in := sip.NewRequest(sip.INVITE, sip.Uri{Host: "vx.example.com"})
		in.SetTransport(inTP)
		in.SetSource("127.0.0.1:40000")
		fwd := in.Clone()
		fwd.SetTransport(outTP)
		fwd.SetDestination("127.0.0.1:40001")
		if err := s.recordRoute(in)(s.cl, fwd); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range fwd.GetHeaders("Record-Route") {
			out = append(out, h.Value())
		}
		return out
	}
	if got := rr("UDP", "UDP"); len(got) != 1 || got[0] != "<sip:127.0.0.1:5070;transport=udp;lr;vxway>" {
		t.Errorf("UDP to UDP: Record-Route %q", got)
	}
	got := rr("TLS", "UDP")
	want := []string{"<sip:127.0.0.1:5070;transport=udp;lr;vxway>", "<sip:127.0.0.1:5071;transport=tls;lr;vxway>"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("TLS to UDP: Record-Route %q, want %q", got, want)
	}
}

// TestStrayOKRelayed: a 200 OK to an INVITE of a routed call that comes
// again after the proxy's transaction ended (the callee repeating it
// until the ACK) goes on to the caller without the proxy's Via; another
// call's, or a provisional answer, does not.
func TestStrayOKRelayed(t *testing.T) {
	r := newRig(t, sipclient.Config{AuthenticationOff: true}, nil)
	caller, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	// The caller has spoken to the proxy (its INVITE): an OPTIONS here.
	opts := fmt.Sprintf("OPTIONS sip:vx SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-o\r\nFrom: <sip:a@vx>;tag=1\r\nTo: <sip:vx>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", caller.LocalAddr())
	if _, err := caller.WriteTo([]byte(opts), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.port}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	caller.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := caller.ReadFrom(buf); err != nil {
		t.Fatalf("OPTIONS: %v", err)
	}
	r.svc.mu.Lock()
	r.svc.putDialogLocked("call-1", &dialog{callerSrc: caller.LocalAddr().String(), callerTP: "UDP"})
	r.svc.mu.Unlock()
	res := func(code int, callID string) *sip.Response {
		raw := fmt.Sprintf("SIP/2.0 %d X\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-proxy\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-caller;rport\r\n"+
			"From: <sip:a@vx>;tag=1\r\nTo: <sip:b@vx>;tag=2\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", code, r.port, callID)
		m, err := sip.NewParser().ParseSIP([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return m.(*sip.Response)
	}
	r.svc.onStrayResponse(res(180, "call-1"))
	r.svc.onStrayResponse(res(200, "call-2"))
	r.svc.onStrayResponse(res(200, "call-1"))
	caller.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := caller.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no 200 OK relayed to the caller: %v", err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "SIP/2.0 200") || !strings.Contains(got, "Call-ID: call-1") || strings.Contains(got, "z9hG4bK-proxy") || !strings.Contains(got, "z9hG4bK-caller") {
		t.Errorf("relayed:\n%s\nwant call-1's 200 OK with the caller's Via only", got)
	}
	caller.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := caller.ReadFrom(buf); err == nil {
		t.Errorf("also relayed:\n%s", buf[:n])
	}
}
