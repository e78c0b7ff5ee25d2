package sipsvc

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/sipclient"
)

// Licensing is the agent's admission and usage route (agentclient.Client
// on the device, a fake in tests).
type Licensing interface {
	// ReportUsage reports the live counts (the service never sets
	// Admit).
	ReportUsage(ctx context.Context, u agentclient.RealUsage) (agentclient.Admitted, error)
	// Admit reports them and has the agent decide admissions in order.
	Admit(ctx context.Context, a agentclient.Admissions) (agentclient.AdmissionsAnswer, error)
}

// Options configure a Service.
type Options struct {
	// Root is the device root holding the settings and credentials.
	Root string
	// Clock drives registration and session expiry.
	Clock clock.Clock
	// Licensing decides admissions and receives the live counts.
	Licensing Licensing
	// Log receives one line per notable event; nil discards.
	Log io.Writer
	// Advertise is the hint for the address SIP peers reach the service
	// at, host or host:port (sipserver --advertise, which init takes
	// from the hypervisor under vxway run --sip-port); the setting
	// xconfiguration SIP Advertise Address overrides it. Empty: the
	// local address facing each peer and the listening ports.
	Advertise string
	// ResyncEvery is how often the live counts are reported again even
	// without a change (default 10 s), so that a restarted agent learns
	// them back.
	ResyncEvery time.Duration
}

// Limits on what one endpoint can make the service keep.
const (
	// MaxExpires and MinExpires bound a registration's lifetime.
	MaxExpires     = 3600 * time.Second
	MinExpires     = 60 * time.Second
	defaultExpires = 3600 * time.Second
	// DefaultSessionExpires is a call's lifetime without a session
	// timer refresh (RFC 4028), when the INVITE names none.
	DefaultSessionExpires = 1800 * time.Second
	// MaxBindings, MaxContacts (per address of record) and MaxDialogs
	// bound the tables.
	MaxBindings = 20000
	MaxContacts = 10
	MaxDialogs  = 10000
)

// Service is the registrar and proxy.
type Service struct {
	o      Options
	clk    clock.Clock
	log    *slog.Logger
	nonces nonces

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cl  *sipgo.Client

	mu       sync.Mutex
	cfg      sipclient.Config
	adv      advert
	room     *regexp.Regexp
	creds    sipclient.Credentials
	bindings map[string]*binding // by AOR
	dialogs  map[string]*dialog  // by Call-ID
	live     tally               // the counts of bindings and dialogs
	refused  map[string]int
	licErr   string
	timer    clock.Timer
	timerAt  time.Time
	closed   bool

	// admitMu orders admissions and reports to the agent.
	admitMu sync.Mutex
	dirty   chan struct{}

	// qmu guards the admissions waiting for the next call to the agent
	// and whether one is under way.
	qmu      sync.Mutex
	queue    []*pending
	deciding bool

	lhMu       sync.Mutex
	localHosts map[string]localAddr // by peer host: localHost's answers
}

// New makes a service and loads its settings.
func New(o Options) (*Service, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.ResyncEvery == 0 {
		o.ResyncEvery = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("making the nonce key: %w", err)
	}
	s := &Service{
		o: o, clk: o.Clock, nonces: nonces{key: key},
		log:      slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelInfo})),
		bindings: map[string]*binding{}, dialogs: map[string]*dialog{}, refused: map[string]int{},
		dirty: make(chan struct{}, 1), localHosts: map[string]localAddr{},
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	// The SIP stack's own warnings; a few of its parts log to
	// slog.Default, which the program sets (cmd/sipserver).
	sipLog := slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("vxway"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(s.onStrayResponse)))
	if err != nil {
		return nil, fmt.Errorf("making the SIP user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		return nil, fmt.Errorf("making the SIP server: %w", err)
	}
	cl, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog))
	if err != nil {
		return nil, fmt.Errorf("making the SIP client: %w", err)
	}
	s.ua, s.srv, s.cl = ua, srv, cl
	srv.OnRegister(s.onRegister)
	srv.OnInvite(s.onInvite)
	srv.OnAck(s.onAck)
	srv.OnBye(s.onInDialog)
	srv.OnCancel(s.onCancel)
	srv.OnUpdate(s.onInDialog)
	srv.OnInfo(s.onInDialog)
	srv.OnOptions(s.onOptions)
	srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		s.respond(tx, req, 405, "Method Not Allowed", "")
	})
	return s, nil
}

// Reload reads the settings and credentials again. Bad files leave the
// previous ones in force.
func (s *Service) Reload() error {
	cfg, err := sipclient.LoadConfig(s.o.Root)
	if err != nil {
		return err
	}
	room, err := cfg.Room()
	if err != nil {
		return err
	}
	creds, err := sipclient.LoadCredentials(s.o.Root)
	if err != nil {
		return err
	}
	adv, err := advertOf(cfg, s.o.Advertise)
	if err != nil {
		return fmt.Errorf("the advertised address given to sipserver: %w", err)
	}
	s.mu.Lock()
	s.cfg, s.adv, s.room, s.creds = cfg, adv, room, creds
	s.mu.Unlock()
	return nil
}

// Serve serves SIP on the listeners until ctx ends: udp and tcp on
// 5060, tls on 5061 on the device; nil listeners are skipped.
func (s *Service) Serve(ctx context.Context, udp net.PacketConn, tcp, tlsL net.Listener) error {
	go s.reporter(ctx)
	s.mu.Lock()
	s.armLocked()
	s.mu.Unlock()
	errc := make(chan error, 3)
	if udp != nil {
		go func() { errc <- s.srv.ServeUDP(udp) }()
	}
	if tcp != nil {
		go func() { errc <- s.srv.ServeTCP(tcp) }()
	}
	if tlsL != nil {
		go func() { errc <- s.srv.ServeTLS(tlsL) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.srv.Close()
	s.ua.Close()
	if udp != nil {
		udp.Close()
	}
	if tcp != nil {
		tcp.Close()
	}
	if tlsL != nil {
		tlsL.Close()
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// TLSListener wraps l with the server certificate for SIP over TLS.
func TLSListener(l net.Listener, cert tls.Certificate) net.Listener {
	return tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}

// TLSListenerFunc wraps l with a certificate chosen at each handshake.
func TLSListenerFunc(l net.Listener, get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) net.Listener {
	return tls.NewListener(l, &tls.Config{GetCertificate: get, MinVersion: tls.VersionTLS12})
}

// respond answers req with code and reason, and a Warning header with
// why when given.
func (s *Service) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason, why string, extra ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if why != "" {
		res.AppendHeader(sip.NewHeader("Warning", warning(why)))
	}
	for _, h := range extra {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil && !errors.Is(err, sip.ErrTransactionTerminated) {
		s.log.Debug("responding", "err", err)
	}
}

// warning is a Warning header value (RFC 3261 20.43): code 399
// (miscellaneous), this agent, and the text with quotes escaped.
func warning(text string) string {
	b := make([]byte, 0, len(text)+16)
	b = append(b, `399 vxway "`...)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

func (s *Service) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 200, "OK", "", sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, UPDATE, INFO"))
}

// count records a refusal for xstatus SIP.
func (s *Service) count(reason string) {
	s.mu.Lock()
	s.refused[reason]++
	s.mu.Unlock()
}
