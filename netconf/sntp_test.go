package netconf

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"vxway/netsettings"

	"vxway/clock"
	"vxway/testsupport"
)

// ntpServer answers SNTP requests on loopback with a clock ahead of the
// host's by ahead; stratum 0 plays an unsynchronised server, echo false a
// server answering some other request.
type ntpServer struct {
	conn    net.PacketConn
	aheadNs atomic.Int64 // changed while it serves
	stratum byte
	echo    bool
}

func (s *ntpServer) ahead() time.Duration     { return time.Duration(s.aheadNs.Load()) }
func (s *ntpServer) setAhead(d time.Duration) { s.aheadNs.Store(int64(d)) }

func startNTP(t *testing.T, ahead time.Duration, stratum byte, echo bool) *ntpServer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ntpServer{conn: c, stratum: stratum, echo: echo}
	s.setAhead(ahead)
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 48 {
				continue
			}
			resp := make([]byte, 48)
			resp[0] = 4<<3 | 4
			resp[1] = s.stratum
			if s.echo {
				copy(resp[24:32], buf[40:48])
			}
			now := toNTP(time.Now().Add(s.ahead()))
			binary.BigEndian.PutUint64(resp[32:], now)
			binary.BigEndian.PutUint64(resp[40:], now)
			c.WriteTo(resp, from)
		}
	}()
	t.Cleanup(func() { c.Close() })
	return s
}

func (s *ntpServer) port() string {
	_, p, _ := net.SplitHostPort(s.conn.LocalAddr().String())
	return p
}

func TestNTPTimestamps(t *testing.T) {
	for _, tm := range []time.Time{time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC), time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC)} {
		if got := fromNTP(toNTP(tm)); got.Sub(tm).Abs() > time.Microsecond {
			t.Errorf("round trip of %v gave %v", tm, got)
		}
	}
}

func TestSNTPOffset(t *testing.T) {
	tests := []struct {
		name    string
		srv     *ntpServer
		wantErr bool
	}{
		{"ahead an hour", startNTP(t, time.Hour, 2, true), false},
		{"behind", startNTP(t, -90*time.Second, 1, true), false},
		{"unsynchronised", startNTP(t, 0, 0, true), true},
		{"answer to another request", startNTP(t, 0, 2, false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			off, err := sntpOffset(ctx, "127.0.0.1:"+tt.srv.port(), time.Now)
			if tt.wantErr {
				if !errors.Is(err, ErrBadNTPAnswer) {
					t.Fatalf("offset %v, err %v; want ErrBadNTPAnswer", off, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := off - tt.srv.ahead(); d.Abs() > 500*time.Millisecond {
				t.Errorf("offset %v, want about %v", off, tt.srv.ahead())
			}
		})
	}
}

func TestServiceSetsClockFromNTP(t *testing.T) {
	root := t.TempDir()
	good := startNTP(t, time.Hour, 2, true)
	ts, stepped := startNTPService(t, root, good.port(), time.Hour)
	testsupport.Eventually(t, "the clock step", func() bool { return len(stepped()) == 1 })
	steps := stepped()
	if d := steps[0] - time.Hour; d.Abs() > 500*time.Millisecond {
		t.Errorf("clock stepped by %v, want about 1h", steps[0])
	}
	testsupport.Eventually(t, "NTP in the status", func() bool { st, _ := ReadStatus(root); return st.NTPSyncedFrom == "127.0.0.1" })
	if !strings.Contains(ts.log.String(), "clock set from NTP server 127.0.0.1") {
		t.Errorf("log:\n%s", ts.log.String())
	}
}

// TestNTPGuard walks the step rules over successive rounds of answers:
// anything goes before the first sync; after it, an offset over
// MaxNTPStep needs a second server or the next answer to agree.
func TestNTPGuard(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ans := func(srv string, off time.Duration) ntpAnswer { return ntpAnswer{server: srv, offset: off, at: at} }
	type round struct {
		name    string
		answers []ntpAnswer
		step    bool
		server  string // the answer acted on
		why     string
	}
	rounds := []round{
		{"first sync: a year off", []ntpAnswer{ans("a", 365*24*time.Hour)}, true, "a", ""},
		{"small offset", []ntpAnswer{ans("a", 3*time.Second)}, true, "a", ""},
		{"just within the bound", []ntpAnswer{ans("a", -MaxNTPStep)}, true, "a", ""},
		{"one answer, two days off", []ntpAnswer{ans("a", 48*time.Hour)}, false, "a", "more than the 1h0m0s one answer may step"},
		{"next answer disagrees", []ntpAnswer{ans("a", 72*time.Hour)}, false, "a", "not stepping it"},
		{"next answer agrees", []ntpAnswer{ans("a", 72*time.Hour+300*time.Millisecond)}, true, "a", "confirmed by the answer of a"},
		{"a second server agrees", []ntpAnswer{ans("a", -5*time.Hour), ans("b", -5*time.Hour-200*time.Millisecond)}, true, "a", "NTP server b agrees"},
		{"a second server disagrees", []ntpAnswer{ans("a", 5*time.Hour), ans("b", 9*time.Hour)}, false, "a", "not stepping"},
		{"a second server contradicts", []ntpAnswer{ans("a", 5*time.Hour), ans("b", 2*time.Second)}, true, "b", "NTP server a said 5h0m0s and was not believed"},
		{"a contradicted answer is not pending", []ntpAnswer{ans("a", 5*time.Hour)}, false, "a", "not stepping"},
	}
	var g ntpGuard
	for _, r := range rounds {
		t.Run(r.name, func(t *testing.T) {
			a, v := g.judge(r.answers)
			if v.step != r.step || a.server != r.server || !strings.Contains(v.why, r.why) {
				t.Fatalf("judge = %+v, %+v; want step %v from %s, why %q", a, v, r.step, r.server, r.why)
			}
			if v.step {
				g.done()
			}
		})
	}
}

// TestServiceBoundsNTPSteps runs the network service against a server on
// loopback whose clock jumps: after the first sync, a jump over
// MaxNTPStep is held back until the next answer (asked
// NTPConfirmInterval later on the fake clock) agrees.
func TestServiceBoundsNTPSteps(t *testing.T) {
	root := t.TempDir()
	srv := startNTP(t, 2*time.Hour, 2, true)
	ts, stepped := startNTPService(t, root, srv.port(), 24*time.Hour)
	logged := func(s string, n int) func() bool {
		return func() bool { return strings.Count(ts.log.String(), s) >= n }
	}

	testsupport.Eventually(t, "the first step", func() bool { return len(stepped()) == 1 })
	testsupport.Eventually(t, "the first step logged", logged("clock set from NTP server", 1))
	// The service does not move the host's clock: the server now says what
	// the clock would say after that step, then jumps three days.
	srv.setAhead(72 * time.Hour)
	ts.clk.Advance(NTPInterval)
	testsupport.Eventually(t, "the jump held back", logged("not stepping it until", 1))
	if got := stepped(); len(got) != 1 {
		t.Fatalf("one answer stepped the clock after the first sync: %v", got)
	}
	ts.clk.Advance(NTPConfirmInterval)
	testsupport.Eventually(t, "the confirmed step", func() bool { return len(stepped()) == 2 })
	if got := stepped(); (got[1] - 72*time.Hour).Abs() > 500*time.Millisecond {
		t.Errorf("stepped by %v, want about 72h", got[1])
	}
	testsupport.Eventually(t, "the confirmation logged", logged("confirmed by the answer of 127.0.0.1", 1))
}

// startNTPService runs the network service of root with the NTP server on
// loopback port as its only source, on a fake clock, until the test ends;
// stepped returns the clock steps it made so far.
func startNTPService(t *testing.T, root, port string, lease time.Duration) (ts *testService, stepped func() []time.Duration) {
	t.Helper()
	if err := netsettings.Save(root, netsettings.Config{DHCP: true, NTPServers: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	ts = &testService{link: &fakeLink{}, dhcp: &fakeDHCP{lease: qemuLease, dur: lease}, log: &testsupport.SyncBuffer{}, notified: make(chan struct{}, 16)}
	ts.clk = clock.NewFake(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	ts.service = newService(root, "eth0", ts.log, ts.link, ts.dhcp, ts.clk)
	ts.service.poll = 10 * time.Millisecond
	ts.service.ntpPort = port
	var mu sync.Mutex
	var steps []time.Duration
	ts.service.setClock = func(d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, d)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ts.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ts, func() []time.Duration { mu.Lock(); defer mu.Unlock(); return append([]time.Duration(nil), steps...) }
}
