package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/reservation"
)

// clusterAddr is a free loopback address for a node.
func clusterAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// reservedNode is an agent with an SLR reservation of 10 desktop and 10
// RMS and its own serial, whose cluster node listens on addr.
func reservedNode(t *testing.T, clk *clock.Fake, serial, addr string) *Agent {
	t.Helper()
	root, signer, _ := reservationRoot(t)
	if err := os.WriteFile(filepath.Join(root, "persist/identity.json"), []byte(`{"serial":"`+serial+`","host_id":"0badcafe","source":"random","derived":"2026-01-01T00:00:00Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Root: root, Clock: clk, Dial: newMemManager(clk).dial, ClusterListen: addr,
		Hostname: func() string { return "vx.example.com" }, IP: func() string { return "192.0.2.10" }})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(a.Close)
	req := requestReservation(t, a)
	code, err := signer.IssueSLR(req, false, clk.Now(), []reservation.Entitlement{
		reservation.RMS.Entitlement(10, time.Time{}, time.Time{}),
		reservation.Desktop.Entitlement(10, time.Time{}, time.Time{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReservationInstall(code.Text); err != nil {
		t.Fatal(err)
	}
	return a
}

// joinCluster configures a's cluster with every address.
func joinCluster(t *testing.T, a *Agent, addrs ...string) {
	t.Helper()
	set := func(leaf, value string) {
		if _, err := a.SetCluster(leaf, value); err != nil {
			t.Fatalf("%s: %v", leaf, err)
		}
	}
	set(agentclient.LeafClusterName, "cluster1")
	set(agentclient.LeafClusterSecret, "a secret of twenty chars")
	set(agentclient.LeafClusterLease, "20")
	for i, addr := range addrs {
		set(agentclient.LeafClusterPeer+" "+string(rune('1'+i)), addr)
	}
	if st := a.Cluster().Status.State; st != agentclient.ClusterActive {
		t.Fatalf("cluster state %s: %+v", st, a.Cluster().Status)
	}
}

// line is the License line of type t.
func line(t *testing.T, a *Agent, typ string) agentclient.LicenseLine {
	t.Helper()
	for _, l := range a.Status().Licenses {
		if l.Type == typ {
			return l
		}
	}
	t.Fatalf("no license line for %s", typ)
	return agentclient.LicenseLine{}
}

// usageStatus is the status of type t in the usage list.
func usageStatus(a *Agent, typ string) string {
	for _, u := range a.Status().Usage {
		if u.Type == typ {
			return u.Status
		}
	}
	return ""
}

// eventually waits for the background worker (real network, real time).
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached", what)
		}
	}
}

// TestClusterDocumentExample: two SLR devices with 10 desktop and 10 RMS
// each. Node 1's eleventh session borrows from node 2, up to twenty;
// node 2 cannot use what it lent; usage reported counts borrowed
// licenses at the lender only; use dropping gives licenses back; node 2
// lost, node 1's borrowed licenses stop counting after the lease and its
// use beyond its own is Over Reservation.
func TestClusterDocumentExample(t *testing.T) {
	clk := clock.NewFake(t0)
	a1, a2 := reservedPair(t, clk, "0A1B2C01", "0A1B2C02")

	if err := a1.SetUsage(agentclient.TypeRMS, 10); err != nil {
		t.Fatal(err)
	}
	if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 0 || l.Installed != 10 || l.InUse != 10 {
		t.Fatalf("10 of 10: %+v", l)
	}
	// The eleventh session is a real one from the SIP service.
	if _, err := a1.ReportUsage(agentclient.RealUsage{Admit: &agentclient.Admission{Type: agentclient.TypeRMS}}); err != nil {
		t.Fatalf("eleventh session: %v", err)
	}
	if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 1 || l.InUse != 11 {
		t.Fatalf("node 1 after the eleventh: %+v", l)
	}
	if l := line(t, a2, agentclient.TypeRMS); l.Lent != 1 || l.Installed != 10 {
		t.Fatalf("node 2 after the eleventh: %+v", l)
	}
	if got := usageStatus(a1, agentclient.TypeRMS); got != agentclient.TypeReserved {
		t.Errorf("node 1's RMS status with one borrowed: %s", got)
	}
	if err := a1.SetUsage(agentclient.TypeRMS, 19); err != nil {
		t.Fatalf("twenty sessions: %v", err)
	}
	if err := a1.SetUsage(agentclient.TypeRMS, 20); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Fatalf("twenty-one sessions: %v", err)
	}
	if l := line(t, a2, agentclient.TypeRMS); l.Lent != 10 {
		t.Fatalf("node 2 lent %+v", l)
	}
	if err := a2.SetUsage(agentclient.TypeRMS, 1); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Fatalf("node 2's own session with all lent: %v", err)
	}
	if err := a2.SetUsage(agentclient.TypeDesktop, 10); err != nil {
		t.Fatalf("node 2's desktops are its own: %v", err)
	}
	a1.mu.Lock()
	rep1 := a1.reportedUsageLocked()
	a1.mu.Unlock()
	a2.mu.Lock()
	rep2 := a2.reportedUsageLocked()
	a2.mu.Unlock()
	if rep1[agentclient.TypeRMS] != 10 || rep2[agentclient.TypeRMS] != 10 {
		t.Errorf("reported RMS: node 1 %d, node 2 %d; want 10 and 10", rep1[agentclient.TypeRMS], rep2[agentclient.TypeRMS])
	}

	// Renewals keep the loans over several leases.
	for range 8 {
		clk.Advance(5 * time.Second)
	}
	if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 10 {
		t.Fatalf("after renewals: %+v", l)
	}
	if p := a1.Cluster().Status.Peers; len(p) != 1 || p[0].State != "Up" || p[0].Node != "0A1B2C02" || p[0].Slot != 2 {
		t.Errorf("node 1's peers: %+v", p)
	}

	// Use drops: five go back.
	if err := a1.SetUsage(agentclient.TypeRMS, 14); err != nil {
		t.Fatal(err)
	}
	eventually(t, "five back", func() bool {
		return line(t, a1, agentclient.TypeRMS).Borrowed == 5 && line(t, a2, agentclient.TypeRMS).Lent == 5
	})

	// Node 2 is lost: node 1 counts its five until the lease runs out.
	a2.Close()
	clk.Advance(15 * time.Second)
	if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 5 {
		t.Fatalf("before the lease ran out: %+v", l)
	}
	clk.Advance(10 * time.Second)
	if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 0 || l.InUse != 15 {
		t.Fatalf("after the lease: %+v", l)
	}
	if got := usageStatus(a1, agentclient.TypeRMS); got != agentclient.TypeOverReserved {
		t.Errorf("node 1's RMS status without its lender: %s", got)
	}
	if p := a1.Cluster().Status.Peers; p[0].State != "Down" {
		t.Errorf("lost peer: %+v", p)
	}
}

// TestClusterSettings: the secret is never shown and its file is the
// agent's alone; bad values are refused and change nothing; once the
// device is Unauthorized, changes are refused.
func TestClusterSettings(t *testing.T) {
	clk := clock.NewFake(t0)
	root, _, _ := reservationRoot(t)
	a, err := New(Options{Root: root, Clock: clk, Dial: newMemManager(clk).dial, ClusterListen: clusterAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(a.Close)
	a.SyncEnabled()
	for _, tt := range []struct{ leaf, value string }{
		{agentclient.LeafClusterSecret, "short"},
		{agentclient.LeafClusterPeer + " 7", "10.0.4.2"},
		{agentclient.LeafClusterPeer + " 1", "peer.example.com"},
		{agentclient.LeafClusterLease, "1"},
		{agentclient.LeafClusterName, "bad\x1bname"},
	} {
		if _, err := a.SetCluster(tt.leaf, tt.value); !errors.Is(err, agentclient.ErrInvalidConfig) {
			t.Errorf("%s %q: %v", tt.leaf, tt.value, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, clusterFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused values wrote the file: %v", err)
	}
	if _, err := a.SetCluster(agentclient.LeafClusterSecret, "a secret of twenty chars"); err != nil {
		t.Fatal(err)
	}
	ci := a.Cluster()
	if !ci.Config.SecretSet || ci.Status.State != agentclient.ClusterOff {
		t.Errorf("after the secret: %+v", ci)
	}
	fi, err := os.Stat(filepath.Join(root, clusterFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cluster file: %v %v", fi, err)
	}
	clk.Advance(EvaluationPeriod + day)
	if !a.Status().Unauthorized {
		t.Fatal("not unauthorized after the evaluation")
	}
	if _, err := a.SetCluster(agentclient.LeafClusterName, "cluster1"); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Fatalf("a change while Unauthorized: %v", err)
	}
}

// connectedNode is a registered agent whose manager's account has 10 RMS,
// with its cluster node on addr.
func connectedNode(t *testing.T, clk *clock.Fake, addr string) *Agent {
	t.Helper()
	m := newMemManager(clk)
	m.tokens["tok"] = memToken{va: "Sales", export: true}
	m.licenses["Sales"] = map[string]int{agentclient.TypeRMS: 10}
	a, err := New(Options{Root: expresswayRoot(t), Clock: clk, Dial: m.dial, ClusterListen: addr,
		Hostname: func() string { return "vx.example.com" }, IP: func() string { return "192.0.2.10" }})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(a.Close)
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("tok", false); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestClusterConnected: connected devices' installed count is what the
// manager last authorized; a device whose use grows beyond it is
// admitted and borrows in the background from a peer with spare
// authorized licenses; each reports its own use plus what it lends, so
// the borrowed ones are reported once, by the lender.
func TestClusterConnected(t *testing.T) {
	clk := clock.NewFake(t0)
	addr1, addr2 := clusterAddr(t), clusterAddr(t)
	a1, a2 := connectedNode(t, clk, addr1), connectedNode(t, clk, addr2)
	joinCluster(t, a1, addr1, addr2)
	joinCluster(t, a2, addr1, addr2)
	authorize := func(a *Agent, n int) {
		t.Helper()
		if err := a.SetUsage(agentclient.TypeRMS, n); err != nil {
			t.Fatal(err)
		}
		if err := a.RenewAuthorization(); err != nil {
			t.Fatal(err)
		}
	}
	authorize(a2, 10)
	if err := a2.SetUsage(agentclient.TypeRMS, 3); err != nil {
		t.Fatal(err)
	}
	authorize(a1, 5)
	if l := line(t, a1, agentclient.TypeRMS); l.Installed != 5 {
		t.Fatalf("node 1 installed: %+v", l)
	}
	if err := a1.SetUsage(agentclient.TypeRMS, 8); err != nil {
		t.Fatalf("a connected device over its installed count: %v", err)
	}
	eventually(t, "three borrowed", func() bool {
		return line(t, a1, agentclient.TypeRMS).Borrowed == 3 && line(t, a2, agentclient.TypeRMS).Lent == 3
	})
	for _, tt := range []struct {
		a    *Agent
		want int
	}{{a1, 5}, {a2, 6}} {
		if err := tt.a.RenewAuthorization(); err != nil {
			t.Fatal(err)
		}
		tt.a.mu.Lock()
		got := tt.a.st.Registration.Auth.Reported[agentclient.TypeRMS]
		tt.a.mu.Unlock()
		if got != tt.want {
			t.Errorf("reported %d RMS, want %d", got, tt.want)
		}
	}
}

// TestClusterLastSpareToOne: two devices at their reserved count ask a
// third for its last spare license at the same moment; exactly one is
// admitted.
func TestClusterLastSpareToOne(t *testing.T) {
	clk := clock.NewFake(t0)
	addrs := []string{clusterAddr(t), clusterAddr(t), clusterAddr(t)}
	var as []*Agent
	for i, addr := range addrs {
		a := reservedNode(t, clk, "0A1B2C1"+strconv.Itoa(i), addr)
		joinCluster(t, a, addrs...)
		as = append(as, a)
	}
	for i, n := range []int{10, 10, 9} {
		if err := as[i].SetUsage(agentclient.TypeRMS, n); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = as[i].ReportUsage(agentclient.RealUsage{Admit: &agentclient.Admission{Type: agentclient.TypeRMS}})
		}()
	}
	wg.Wait()
	admitted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			admitted++
		case !errors.Is(err, agentclient.ErrNotReserved):
			t.Fatal(err)
		}
	}
	if admitted != 1 {
		t.Fatalf("%d admitted (%v)", admitted, errs)
	}
	if l := line(t, as[2], agentclient.TypeRMS); l.Lent != 1 || l.InUse != 9 {
		t.Errorf("the lender: %+v", l)
	}
	if err := as[2].SetUsage(agentclient.TypeRMS, 10); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Errorf("the lender's own tenth with its spare lent: %v", err)
	}
}

// TestClusterLentCountedWhileStopped: a lender whose cluster member
// stops (a setting change takes it out of the cluster) keeps counting
// what it lent until no borrower can hold it any more, so the license is
// never used by both.
func TestClusterLentCountedWhileStopped(t *testing.T) {
	clk := clock.NewFake(t0)
	a1, a2 := reservedPair(t, clk, "0A1B2C01", "0A1B2C02")
	if err := a1.SetUsage(agentclient.TypeRMS, 11); err != nil {
		t.Fatal(err)
	}
	if l := line(t, a2, agentclient.TypeRMS); l.Lent != 1 {
		t.Fatalf("node 2 lent: %+v", l)
	}
	if _, err := a2.SetCluster(agentclient.LeafClusterName, ""); err != nil {
		t.Fatal(err)
	}
	if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 1 {
		t.Fatalf("node 1 still holds its lease: %+v", l)
	}
	if l := line(t, a2, agentclient.TypeRMS); l.Lent != 1 {
		t.Errorf("node 2 out of the cluster: %+v; the loan node 1 holds is not counted", l)
	}
	if err := a2.SetUsage(agentclient.TypeRMS, 10); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Errorf("node 2 using the license node 1 still holds: %v", err)
	}
	// Node 1 leaves the license it borrowed to its lender's report.
	a2.mu.Lock()
	rep := a2.reportedUsageLocked()
	a2.mu.Unlock()
	if rep[agentclient.TypeRMS] != 1 {
		t.Errorf("node 2 reports %d RMS; want the 1 node 1 still holds", rep[agentclient.TypeRMS])
	}
	// A further change while no member runs does not count them longer.
	clk.Advance(90 * time.Second)
	if _, err := a2.SetCluster(agentclient.LeafClusterLease, "30"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 0 {
		t.Fatalf("node 1 after the lease: %+v", l)
	}
	if l := line(t, a2, agentclient.TypeRMS); l.Lent != 0 {
		t.Errorf("node 2 after the longest lease: %+v", l)
	}
	if err := a2.SetUsage(agentclient.TypeRMS, 10); err != nil {
		t.Errorf("node 2's own license after the longest lease: %v", err)
	}
}

// TestClusterBorrowKeptForAdmission: a give-back that runs between the
// borrow for a waiting admission and its second decision (a heartbeat,
// or another report with less use) keeps the license just borrowed, so
// the admission is not refused although a peer had one to spare.
func TestClusterBorrowKeptForAdmission(t *testing.T) {
	for _, tt := range []struct {
		name  string
		admit func(a *Agent) error
	}{
		{"ReportUsage", func(a *Agent) error {
			_, err := a.ReportUsage(agentclient.RealUsage{Admit: &agentclient.Admission{Type: agentclient.TypeRMS}})
			return err
		}},
		{"SetUsage", func(a *Agent) error { return a.SetUsage(agentclient.TypeRMS, 11) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			a1, _ := reservedPair(t, clk, "0A1B2C21", "0A1B2C22")
			if err := a1.SetUsage(agentclient.TypeRMS, 10); err != nil {
				t.Fatal(err)
			}
			gaveBack := false
			a1.cl.afterBorrow = func() {
				a1.mu.Lock()
				node := a1.cl.node
				a1.mu.Unlock()
				before := node.Held()[agentclient.TypeRMS].Borrowed
				node.Settle(context.Background())
				gaveBack = node.Held()[agentclient.TypeRMS].Borrowed < before
			}
			if err := tt.admit(a1); err != nil {
				t.Fatalf("the eleventh with a peer's spare borrowed: %v", err)
			}
			if gaveBack {
				t.Error("the give-back returned the license borrowed for the waiting admission")
			}
			if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 1 || l.InUse != 11 {
				t.Errorf("the borrower: %+v", l)
			}
			a1.mu.Lock()
			pending := len(a1.cl.pending)
			a1.mu.Unlock()
			if pending != 0 {
				t.Errorf("still pending after the admission: %v", a1.cl.pending)
			}
			// Once counted, the license is needed: a heartbeat keeps it.
			a1.cl.node.Settle(context.Background())
			if l := line(t, a1, agentclient.TypeRMS); l.Borrowed != 1 {
				t.Errorf("after a heartbeat: %+v", l)
			}
		})
	}
}

// reservedPair is two SLR devices with the serials serial1 and serial2,
// each with 10 desktop and 10 RMS licenses, in one cluster.
func reservedPair(t *testing.T, clk *clock.Fake, serial1, serial2 string) (*Agent, *Agent) {
	t.Helper()
	addr1, addr2 := clusterAddr(t), clusterAddr(t)
	a1 := reservedNode(t, clk, serial1, addr1)
	a2 := reservedNode(t, clk, serial2, addr2)
	joinCluster(t, a1, addr1, addr2)
	joinCluster(t, a2, addr1, addr2)
	return a1, a2
}
