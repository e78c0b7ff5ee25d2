package netconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"vxway/netsettings"

	"vxway/clock"
)

// Link changes the kernel's network interfaces (netlink on the device).
type Link interface {
	// SetUp brings the named interface up.
	SetUp(name string) error
	// SetAddress makes p the only IPv4 address of the interface.
	SetAddress(name string, p netip.Prefix) error
	// ClearAddresses removes every IPv4 address of the interface.
	ClearAddresses(name string) error
	// SetDefaultRoute points the IPv4 default route at gw through the
	// interface; a zero gw removes the default route.
	SetDefaultRoute(name string, gw netip.Addr) error
}

// DHCPClient obtains a lease for an interface.
type DHCPClient interface {
	Lease(ctx context.Context, ifname string) (Lease, time.Duration, error)
}

// Timings of the network service.
const (
	// PollInterval is how often the service looks for a changed
	// network.json.
	PollInterval = 500 * time.Millisecond
	// LeaseTimeout bounds one DHCP attempt.
	LeaseTimeout = 8 * time.Second
	// RetryMin and RetryMax bound the wait between failed DHCP attempts.
	RetryMin = 5 * time.Second
	RetryMax = 60 * time.Second
	// MinRenew is the shortest wait before renewing a lease.
	MinRenew = 30 * time.Second
)

type leaseResult struct {
	gen   int
	lease Lease
	dur   time.Duration
	err   error
}

// service applies network.json to one interface and keeps it applied.
type service struct {
	root   string
	ifname string
	log    io.Writer
	link   Link
	dhcp   DHCPClient
	clock  clock.Clock
	poll   time.Duration
	// notify is told when the resolver configuration changed (the
	// licensing agent retries at once); nil for none.
	notify func(ctx context.Context) error

	cfg      netsettings.Config
	cfgHash  string
	badHash  string // content of a rejected network.json, logged once
	lease    *Lease
	leaseEnd time.Time
	leaseGen int // bumped on every attempt; stale results are dropped
	inFlight context.CancelFunc
	retry    time.Duration
	timer    clock.Timer
	timerC   chan struct{}
	leaseC   chan leaseResult

	readyOnce sync.Once
	ready     chan struct{} // closed once the interface has an address
	started   bool

	// setClock steps the system clock by an offset; nil leaves the clock
	// alone (NTP is then only queried and reported).
	setClock func(time.Duration) error
	ntpPort  string
	ntpKey   string // the servers the last sync used
	ntpTimer clock.Timer
	ntpC     chan ntpResult
	ntpWake  chan struct{}
	ntp      ntpAnswer // latest answer acted on
	ntpGuard ntpGuard
}

// NTPInterval is how often the clock is set again from NTP.
const NTPInterval = time.Hour

// ntpStep is the smallest offset the clock is stepped for.
const ntpStep = 500 * time.Millisecond

// ntpResult is one round of NTP queries: the good answers in server
// order, or why there were none.
type ntpResult struct {
	answers []ntpAnswer
	err     error
}

func newService(root, ifname string, log io.Writer, link Link, dhcp DHCPClient, clk clock.Clock) *service {
	return &service{
		root: root, ifname: ifname, log: log, link: link, dhcp: dhcp, clock: clk,
		poll:    PollInterval,
		ntpPort: "123",
		ntpC:    make(chan ntpResult, 1),
		ntpWake: make(chan struct{}, 1),
		timerC:  make(chan struct{}, 1),
		leaseC:  make(chan leaseResult, 1),
		ready:   make(chan struct{}),
	}
}

func (s *service) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "netconf: "+format+"\n", args...)
}

// run applies the configuration, then follows changes of network.json and
// the DHCP lease until ctx ends.
func (s *service) run(ctx context.Context) {
	s.reload(ctx)
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.stopDHCP()
			return
		case <-tick.C:
			s.reload(ctx)
		case r := <-s.leaseC:
			s.onLease(ctx, r)
		case <-s.timerC:
			if s.cfg.DHCP && s.inFlight == nil {
				s.startDHCP(ctx)
			}
		case r := <-s.ntpC:
			s.onNTP(ctx, r)
		case <-s.ntpWake:
			s.ntpKey = ""
			s.publish(ctx, nil)
		}
	}
}

// reload reads network.json and applies it when it changed. A missing file
// means the defaults; a bad one is reported once and the configuration in
// force stays.
func (s *service) reload(ctx context.Context) {
	cfg, err := netsettings.Load(s.root)
	if err != nil && !errors.Is(err, netsettings.ErrNotConfigured) {
		p := filepath.Join(s.root, netsettings.ConfigPath)
		b, _ := os.ReadFile(p)
		h := string(b)
		if h != s.badHash {
			s.badHash = h
			s.logf("%v; keeping the configuration in force", err)
		}
		if !s.started {
			cfg = netsettings.Default()
			s.logf("using DHCP until %s is fixed", netsettings.ConfigPath)
		} else {
			return
		}
	}
	h := cfg.Hash()
	if s.started && h == s.cfgHash {
		return
	}
	s.apply(ctx, cfg, h)
}

func (s *service) apply(ctx context.Context, cfg netsettings.Config, hash string) {
	old, first := s.cfg, !s.started
	s.cfg, s.cfgHash, s.started = cfg, hash, true
	if err := s.link.SetUp(s.ifname); err != nil {
		s.logf("bringing up %s: %v", s.ifname, err)
		s.report(err)
		return
	}
	if !cfg.DHCP {
		s.stopDHCP()
		s.lease = nil
		p, gw := cfg.Static()
		if err := s.setAddr(p, gw); err != nil {
			s.report(err)
			return
		}
		s.logf("%s %s static, gateway %s", s.ifname, p, gwString(gw))
		s.publish(ctx, nil)
		s.markReady()
		return
	} else if first || !old.DHCP {
		if !first {
			if err := s.link.ClearAddresses(s.ifname); err != nil {
				s.logf("clearing %s: %v", s.ifname, err)
			}
		}
		s.lease = nil
		s.retry = 0
		s.startDHCP(ctx)
	}
	s.publish(ctx, nil)
}

func gwString(gw netip.Addr) string {
	if !gw.IsValid() {
		return "none"
	}
	return gw.String()
}

func (s *service) setAddr(p netip.Prefix, gw netip.Addr) error {
	if err := s.link.SetAddress(s.ifname, p); err != nil {
		return fmt.Errorf("setting %s on %s: %w", p, s.ifname, err)
	}
	if err := s.link.SetDefaultRoute(s.ifname, gw); err != nil {
		return fmt.Errorf("setting the default route via %s: %w", gwString(gw), err)
	}
	return nil
}

func (s *service) startDHCP(ctx context.Context) {
	s.stopDHCP()
	s.leaseGen++
	gen := s.leaseGen
	lctx, cancel := context.WithTimeout(ctx, LeaseTimeout)
	s.inFlight = cancel
	go func() {
		defer cancel()
		l, d, err := s.dhcp.Lease(lctx, s.ifname)
		select {
		case s.leaseC <- leaseResult{gen: gen, lease: l, dur: d, err: err}:
		case <-ctx.Done():
		}
	}()
}

func (s *service) stopDHCP() {
	if s.inFlight != nil {
		s.inFlight()
		s.inFlight = nil
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

func (s *service) after(d time.Duration) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = s.clock.AfterFunc(d, func() {
		select {
		case s.timerC <- struct{}{}:
		default:
		}
	})
}

func (s *service) onLease(ctx context.Context, r leaseResult) {
	if r.gen != s.leaseGen || !s.cfg.DHCP {
		return // an attempt for a configuration no longer in force
	}
	s.inFlight = nil
	if r.err != nil {
		if s.lease != nil && s.clock.Now().Before(s.leaseEnd) {
			s.logf("renewing the DHCP lease: %v; keeping %s until %s", r.err, s.lease.Address, s.leaseEnd.UTC().Format(time.RFC3339))
		} else {
			if s.lease != nil {
				s.logf("DHCP lease on %s expired", s.ifname)
				if err := s.link.ClearAddresses(s.ifname); err != nil {
					s.logf("clearing %s: %v", s.ifname, err)
				}
				s.lease = nil
				s.publish(ctx, nil)
			}
			s.retry = min(max(2*s.retry, RetryMin), RetryMax)
			s.logf("no DHCP lease on %s: %v; trying again in %s", s.ifname, r.err, s.retry)
		}
		s.after(max(s.retry, RetryMin))
		return
	}
	s.retry = 0
	l := r.lease
	if err := s.setAddr(l.Address, l.Gateway); err != nil {
		s.logf("%v", err)
		s.report(err)
		s.after(RetryMin)
		return
	}
	if s.lease == nil || s.lease.Address != l.Address || s.lease.Gateway != l.Gateway {
		s.logf("%s %s by DHCP from %s, gateway %s, lease %s", s.ifname, l.Address, l.Server, gwString(l.Gateway), r.dur)
	}
	s.lease = &l
	s.leaseEnd = s.clock.Now().Add(r.dur)
	s.after(max(r.dur/2, MinRenew))
	s.publish(ctx, nil)
	s.markReady()
}

func (s *service) markReady() {
	s.readyOnce.Do(func() { close(s.ready) })
}

// publish writes resolv.conf and the status for the settings in force, and
// tells the agent when the resolver configuration changed.
func (s *service) publish(ctx context.Context, applyErr error) {
	e := Merge(s.cfg, s.lease)
	changed, err := WriteResolv(s.root, e)
	if err != nil {
		s.logf("%v", err)
		applyErr = errors.Join(applyErr, err)
	}
	switch {
	case !changed:
	case len(e.DNSServers) == 0 && s.cfg.DHCP && s.lease == nil:
		// Nothing to say until the lease brings servers.
	case len(e.DNSServers) == 0:
		s.logf("no DNS servers; set one with xconfiguration DNS Server 1 Address: <ip>")
	default:
		src := "configured"
		if e.DNSFromDHCP {
			src = "from DHCP"
		}
		domain := ""
		if e.SearchDomain != "" {
			domain = ", search domain " + e.SearchDomain
		}
		s.logf("DNS %s (%s)%s", strings.Join(e.DNSServers, " "), src, domain)
	}
	st := Status{
		ConfigHash:   s.cfgHash,
		State:        StateUp,
		Interface:    s.ifname,
		DHCP:         s.cfg.DHCP,
		DNSServers:   e.DNSServers,
		DNSFromDHCP:  e.DNSFromDHCP,
		SearchDomain: e.SearchDomain,
		NTPServers:   e.NTPServers,
		Updated:      s.clock.Now().UTC(),
	}
	if st.DNSServers == nil {
		st.DNSServers = []string{}
	}
	if st.NTPServers == nil {
		st.NTPServers = []string{}
	}
	if e.Address.IsValid() {
		st.Address = e.Address.String()
	}
	if e.Gateway.IsValid() {
		st.Gateway = e.Gateway.String()
	}
	if s.cfg.DHCP {
		if s.lease == nil {
			st.State = StateWaitingDHCP
		} else {
			st.DHCPServer = s.lease.Server.String()
			st.LeaseExpires = s.leaseEnd.UTC()
		}
	}
	if applyErr != nil {
		st.State, st.Error = StateError, applyErr.Error()
	}
	if s.ntp.server != "" {
		st.NTPSyncedFrom, st.NTPSynced, st.NTPOffset = s.ntp.server, s.ntp.at, s.ntp.offset.String()
	}
	if err := writeStatus(s.root, st); err != nil {
		s.logf("%v", err)
	}
	if key := strings.Join(e.NTPServers, " "); key != s.ntpKey && (e.Address.IsValid() || len(e.NTPServers) == 0) {
		s.ntpKey = key
		s.syncTime(ctx, e.NTPServers, s.ntpGuard.synced)
	}
	if changed && s.notify != nil {
		s.tellAgent(ctx)
		// Go programs (the agent among them) look at resolv.conf again at
		// most every 5 s: a retry in that window still uses the old
		// servers, so the agent is told once more after it.
		s.clock.AfterFunc(ResolverRecheck, func() { s.tellAgent(ctx) })
	}
}

// ResolverRecheck is how long after a DNS change the licensing agent is
// told a second time.
const ResolverRecheck = 6 * time.Second

func (s *service) tellAgent(ctx context.Context) {
	go func() {
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.notify(nctx); err != nil && !errors.Is(err, ErrAgentNotRunning) && ctx.Err() == nil {
			s.logf("telling the licensing agent the DNS changed: %v", err)
		}
	}()
}

// report publishes a failure to apply.
func (s *service) report(err error) {
	s.publish(context.Background(), err)
}

// syncTime asks the NTP servers in order for the time, in the background,
// and hands the round's answers to the run loop. The first good answer
// ends the round, unless bounded (the clock was set from NTP already) and
// it would step the clock by more than MaxNTPStep: then every other server
// is asked too, for a second opinion.
func (s *service) syncTime(ctx context.Context, servers []string, bounded bool) {
	if s.ntpTimer != nil {
		s.ntpTimer.Stop()
		s.ntpTimer = nil
	}
	if len(servers) == 0 {
		return
	}
	port := s.ntpPort
	go func() {
		var errs []error
		var answers []ntpAnswer
		for _, srv := range servers {
			qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			off, err := sntpOffset(qctx, net.JoinHostPort(srv, port), time.Now)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			answers = append(answers, ntpAnswer{server: srv, offset: off, at: time.Now()})
			if !bounded || answers[0].offset.Abs() <= MaxNTPStep || (len(answers) > 1 && agree(answers[0].offset, off)) {
				break
			}
		}
		r := ntpResult{answers: answers}
		if len(answers) == 0 {
			r.err = errors.Join(errs...)
		}
		select {
		case s.ntpC <- r:
		case <-ctx.Done():
		}
	}()
}

func (s *service) onNTP(ctx context.Context, r ntpResult) {
	var a ntpAnswer
	var v ntpVerdict
	next := NTPInterval
	if r.err == nil {
		a, v = s.ntpGuard.judge(r.answers)
		if !v.step {
			next = NTPConfirmInterval
		}
	}
	s.ntpTimer = s.clock.AfterFunc(next, func() {
		select {
		case s.ntpWake <- struct{}{}:
		default:
		}
	})
	switch {
	case r.err != nil:
		s.logf("no time from the NTP servers: %v", r.err)
		return
	case !v.step:
		s.logf("%s", v.why)
		return
	}
	if s.setClock != nil && a.offset.Abs() > ntpStep {
		if err := s.setClock(a.offset); err != nil {
			s.logf("setting the clock from NTP server %s: %v", a.server, err)
			return
		}
		s.logf("clock set from NTP server %s (it was off by %s)%s", a.server, a.offset, v.why)
	}
	s.ntpGuard.done()
	s.ntp = a
	s.publish(ctx, nil)
}
