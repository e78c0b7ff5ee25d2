package netconf

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/clock"
	"vxway/testsupport"
)

// ntpServer answers SNTP requests on loopback with a clock ahead of the
// host's by ahead; stratum 0 plays an unsynchronised server, echo false a
// server answering some other request.
type ntpServer struct {
	conn    net.PacketConn
	ahead   time.Duration
	stratum byte
	echo    bool
}

func startNTP(t *testing.T, ahead time.Duration, stratum byte, echo bool) *ntpServer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ntpServer{conn: c, ahead: ahead, stratum: stratum, echo: echo}
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
			now := toNTP(time.Now().Add(s.ahead))
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
			if d := off - tt.srv.ahead; d.Abs() > 500*time.Millisecond {
				t.Errorf("offset %v, want about %v", off, tt.srv.ahead)
			}
		})
	}
}

func TestServiceSetsClockFromNTP(t *testing.T) {
	root := t.TempDir()
	good := startNTP(t, time.Hour, 2, true)
	if err := Save(root, Config{DHCP: true, NTPServers: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	ts := &testService{link: &fakeLink{}, dhcp: &fakeDHCP{lease: qemuLease, dur: time.Hour}, log: &testsupport.SyncBuffer{}, notified: make(chan struct{}, 16)}
	ts.clk = clock.NewFake(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	ts.service = newService(root, "eth0", ts.log, ts.link, ts.dhcp, ts.clk)
	ts.service.poll = 10 * time.Millisecond
	ts.service.ntpPort = good.port()
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
	defer func() { cancel(); <-done }()
	testsupport.Eventually(t, "the clock step", func() bool { mu.Lock(); defer mu.Unlock(); return len(steps) == 1 })
	if d := steps[0] - time.Hour; d.Abs() > 500*time.Millisecond {
		t.Errorf("clock stepped by %v, want about 1h", steps[0])
	}
	testsupport.Eventually(t, "NTP in the status", func() bool { st, _ := ReadStatus(root); return st.NTPSyncedFrom == "127.0.0.1" })
	if !strings.Contains(ts.log.String(), "clock set from NTP server 127.0.0.1") {
		t.Errorf("log:\n%s", ts.log.String())
	}
}
