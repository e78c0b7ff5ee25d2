package netconf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"vxway/netsettings"

	"vxway/clock"
	"vxway/testsupport"
)

// fakeLink records what the service asked of the kernel: the kernel's
// netlink cannot be changed from a unit test.
type fakeLink struct {
	mu    sync.Mutex
	up    map[string]bool
	addr  netip.Prefix
	gw    netip.Addr
	fail  error
	calls int
}

func (l *fakeLink) SetUp(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.up == nil {
		l.up = map[string]bool{}
	}
	l.up[name] = true
	return nil
}

func (l *fakeLink) SetAddress(_ string, p netip.Prefix) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.fail != nil {
		return l.fail
	}
	l.addr = p
	return nil
}

func (l *fakeLink) ClearAddresses(string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addr = netip.Prefix{}
	return nil
}

func (l *fakeLink) SetDefaultRoute(_ string, gw netip.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gw = gw
	return nil
}

func (l *fakeLink) state() (netip.Prefix, netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr, l.gw
}

// fakeDHCP answers with lease, or err; it counts the attempts.
type fakeDHCP struct {
	mu     sync.Mutex
	lease  Lease
	dur    time.Duration
	err    error
	leases int
}

func (d *fakeDHCP) Lease(ctx context.Context, _ string) (Lease, time.Duration, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.leases++
	return d.lease, d.dur, d.err
}

func (d *fakeDHCP) set(l Lease, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lease, d.err = l, err
}

func (d *fakeDHCP) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.leases
}

var qemuLease = Lease{
	Address:    netip.MustParsePrefix("10.0.2.15/24"),
	Gateway:    netip.MustParseAddr("10.0.2.2"),
	DNSServers: []netip.Addr{netip.MustParseAddr("10.0.2.3")},
	Server:     netip.MustParseAddr("10.0.2.2"),
}

type testService struct {
	*service
	link     *fakeLink
	dhcp     *fakeDHCP
	clk      *clock.Fake
	log      *testsupport.SyncBuffer
	notified chan struct{}
}

func startService(t *testing.T, root string) *testService {
	t.Helper()
	ts := &testService{
		link:     &fakeLink{},
		dhcp:     &fakeDHCP{lease: qemuLease, dur: time.Hour},
		clk:      clock.NewFake(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)),
		log:      &testsupport.SyncBuffer{},
		notified: make(chan struct{}, 16),
	}
	ts.service = newService(root, "eth0", ts.log, ts.link, ts.dhcp, ts.clk)
	ts.service.poll = 10 * time.Millisecond
	ts.service.notify = func(context.Context) error {
		ts.notified <- struct{}{}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		ts.run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ts
}

func readResolv(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ResolvPath))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func TestServiceDHCPThenStaticThenDHCP(t *testing.T) {
	root := t.TempDir()
	ts := startService(t, root)
	<-ts.ready
	if a, gw := ts.link.state(); a != qemuLease.Address || gw != qemuLease.Gateway {
		t.Fatalf("after DHCP: address %v gw %v, want %v via %v", a, gw, qemuLease.Address, qemuLease.Gateway)
	}
	if !ts.link.up["eth0"] {
		t.Error("eth0 was not brought up")
	}
	testsupport.Eventually(t, "resolv.conf from DHCP", func() bool { return strings.Contains(readResolv(t, root), "nameserver 10.0.2.3\n") })
	st, err := ReadStatus(root)
	if err != nil || st.State != StateUp || st.Address != "10.0.2.15/24" || !st.DNSFromDHCP {
		t.Fatalf("status = %+v, %v", st, err)
	}

	static := netsettings.Config{Address: "192.0.2.10", PrefixLength: 24, Gateway: "192.0.2.1", DNSServers: []string{"192.0.2.53"}, SearchDomain: "example.test"}
	if err := netsettings.Save(root, static); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, "static address", func() bool {
		a, gw := ts.link.state()
		return a.String() == "192.0.2.10/24" && gw.String() == "192.0.2.1"
	})
	testsupport.Eventually(t, "static resolv.conf", func() bool {
		r := readResolv(t, root)
		return strings.Contains(r, "search example.test\nnameserver 192.0.2.53\n") && !strings.Contains(r, "10.0.2.3")
	})
	testsupport.Eventually(t, "status of the static config", func() bool {
		st, err := ReadStatus(root)
		return err == nil && st.ConfigHash == static.Hash() && !st.DHCP
	})

	// A broken file keeps the configuration in force and says why.
	if err := os.WriteFile(filepath.Join(root, netsettings.ConfigPath), []byte(`{"dhcp": false, "address": "nope"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, "the bad file reported", func() bool { return strings.Contains(ts.log.String(), `"nope" is not an IPv4 address`) })
	if a, _ := ts.link.state(); a.String() != "192.0.2.10/24" {
		t.Fatalf("a bad network.json changed the address to %v", a)
	}

	back := netsettings.Default()
	if err := netsettings.Save(root, back); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, "DHCP address again", func() bool { a, _ := ts.link.state(); return a == qemuLease.Address })
	testsupport.Eventually(t, "DHCP resolv.conf again", func() bool { return strings.Contains(readResolv(t, root), "nameserver 10.0.2.3\n") })
}

func TestServiceDNSChangeNotifiesAgent(t *testing.T) {
	root := t.TempDir()
	ts := startService(t, root)
	<-ts.ready
	drain := func() int {
		n := 0
		for {
			select {
			case <-ts.notified:
				n++
			case <-time.After(50 * time.Millisecond):
				return n
			}
		}
	}
	testsupport.Eventually(t, "first resolv.conf", func() bool { return readResolv(t, root) != "" })
	drain()
	c := netsettings.Default()
	c.DNSServers = []string{"10.0.2.2"}
	if err := netsettings.Save(root, c); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ts.notified:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent was not told about the DNS change")
	}
	// Once more after the resolver's recheck interval.
	ts.clk.Advance(ResolverRecheck)
	select {
	case <-ts.notified:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent was not told again after the resolver recheck")
	}
	drain()
	// A change that leaves resolv.conf alone tells nobody.
	c.NTPServers = []string{"10.0.2.2"}
	if err := netsettings.Save(root, c); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, "NTP applied", func() bool { st, _ := ReadStatus(root); return st.ConfigHash == c.Hash() })
	if n := drain(); n != 0 {
		t.Fatalf("agent told %d times about an NTP-only change", n)
	}
}

func TestServiceDHCPRetryAndRenew(t *testing.T) {
	root := t.TempDir()
	ts := startService(t, root)
	<-ts.ready
	if n := ts.dhcp.count(); n != 1 {
		t.Fatalf("%d DHCP attempts at start, want 1", n)
	}
	// Renewal at half the lease: the clock moves, nothing sleeps.
	ts.clk.Advance(29 * time.Minute)
	time.Sleep(30 * time.Millisecond)
	if n := ts.dhcp.count(); n != 1 {
		t.Fatalf("renewed before half the lease: %d attempts", n)
	}
	ts.dhcp.set(Lease{}, errors.New("no answer"))
	ts.clk.Advance(time.Minute)
	testsupport.Eventually(t, "renewal attempt", func() bool { return ts.dhcp.count() == 2 })
	testsupport.Eventually(t, "renewal failure logged", func() bool { return strings.Contains(ts.log.String(), "keeping 10.0.2.15/24") })
	if a, _ := ts.link.state(); a != qemuLease.Address {
		t.Fatalf("a failed renewal before expiry dropped the address: %v", a)
	}
	// Past the lease's end the address goes and the service keeps trying.
	// Timers are set by the service's goroutine: keep moving the clock
	// until the outcome shows.
	testsupport.Eventually(t, "expiry", func() bool {
		ts.clk.Advance(time.Minute)
		a, _ := ts.link.state()
		return !a.IsValid()
	})
	testsupport.Eventually(t, "status waiting", func() bool { st, _ := ReadStatus(root); return st.State == StateWaitingDHCP })
	ts.dhcp.set(qemuLease, nil)
	n := ts.dhcp.count()
	testsupport.Eventually(t, "retry", func() bool {
		ts.clk.Advance(time.Second)
		return ts.dhcp.count() > n
	})
	testsupport.Eventually(t, "address back", func() bool { a, _ := ts.link.state(); return a == qemuLease.Address })
}

func TestServiceLinkFailureReported(t *testing.T) {
	root := t.TempDir()
	if err := netsettings.Save(root, netsettings.Config{Address: "192.0.2.10", PrefixLength: 24}); err != nil {
		t.Fatal(err)
	}
	ts := &fakeLink{fail: fmt.Errorf("operation not permitted")}
	s := newService(root, "eth0", &testsupport.SyncBuffer{}, ts, &fakeDHCP{}, clock.NewFake(time.Unix(0, 0)))
	s.reload(context.Background())
	st, err := ReadStatus(root)
	if err != nil || st.State != StateError || !strings.Contains(st.Error, "operation not permitted") {
		t.Fatalf("status = %+v, %v; want the failure", st, err)
	}
}
