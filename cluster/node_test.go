package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vxway/clock"
)

// book is a ledger like the agent's: installed and used licenses per
// type, with the lender's rule (installed − own use − lent, nothing while
// borrowing) and the admission rule (use + lent ≤ installed + borrowed).
type book struct {
	mu        sync.Mutex
	node      *Node
	installed map[string]int
	use       map[string]int
	changed   atomic.Int32
	// lendHook, when set, runs at the start of every Lend.
	lendHook atomic.Pointer[func()]
}

func (b *book) Lend(t string, want int, take func(int) bool) int {
	if h := b.lendHook.Load(); h != nil {
		(*h)()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.node.Held()[t]
	if h.Borrowed > 0 {
		return 0
	}
	k := min(want, b.installed[t]-b.use[t]-h.Lent)
	if k < 1 || !take(k) {
		return 0
	}
	return k
}

func (b *book) WithNeed(t string, f func(int, int)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(max(0, b.use[t]-b.installed[t]), 0)
}

func (b *book) Changed() { b.changed.Add(1) }

// fits reports whether one more of t fits the node's own and borrowed
// licenses.
func (b *book) fits(t string) bool {
	h := b.node.Held()[t]
	return b.use[t]+1+h.Lent <= b.installed[t]+h.Borrowed
}

// admit admits one more of t, borrowing one when the node has none left.
func (b *book) admit(t string) error {
	b.mu.Lock()
	if b.fits(t) {
		b.use[t]++
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	if _, err := b.node.Borrow(context.Background(), t, 1); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.fits(t) {
		return errors.New("borrowed, but no longer fits")
	}
	b.use[t]++
	return nil
}

// release ends one use of t and gives back what is not needed.
func (b *book) release(t string, k int) {
	b.mu.Lock()
	b.use[t] -= k
	b.mu.Unlock()
	b.node.Settle(context.Background())
}

func (b *book) used(t string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.use[t]
}

var types = []string{"desktop", "rms"}

const secret = "correct horse battery staple"

// testCluster is n in-process nodes on loopback on one fake clock.
type testCluster struct {
	t     *testing.T
	clk   *clock.Fake
	lns   []net.Listener
	nodes []*Node
	books []*book
	dir   string
	// names, when set, are the nodes' names (node1, node2, … otherwise).
	names []string
}

// newListeners opens one loopback listener per node.
func newListeners(t *testing.T, n int) []net.Listener {
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	return lns
}

func addrs(lns []net.Listener) []string {
	var out []string
	for _, ln := range lns {
		out = append(out, ln.Addr().String())
	}
	return out
}

// startCluster starts n nodes, each with installed licenses of every
// type; every node lists every address (its own too).
func startCluster(t *testing.T, installed ...int) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, clk: clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), dir: t.TempDir()}
	tc.lns = newListeners(t, len(installed))
	peers := addrs(tc.lns)
	for i, n := range installed {
		tc.books = append(tc.books, nil)
		tc.nodes = append(tc.nodes, nil)
		tc.start(i, Config{Name: "cluster1", Secret: secret, Peers: peers}, n, tc.lns[i])
	}
	return tc
}

// start starts node i on ln.
func (tc *testCluster) start(i int, cfg Config, installed int, ln net.Listener) {
	tc.t.Helper()
	b := &book{installed: map[string]int{}, use: map[string]int{}}
	for _, typ := range types {
		b.installed[typ] = installed
	}
	self := "node" + string(rune('1'+i))
	if i < len(tc.names) {
		self = tc.names[i]
	}
	n, err := New(Options{Config: cfg, Self: self, Types: types, Ledger: b, Listener: ln, Clock: tc.clk,
		StatePath: filepath.Join(tc.dir, "node"+string(rune('1'+i)), "loans.json"), Logf: tc.t.Logf})
	if err != nil {
		tc.t.Fatal(err)
	}
	b.node = n
	n.Start()
	tc.t.Cleanup(n.Close)
	tc.nodes[i], tc.books[i] = n, b
}

// beat runs one heartbeat on every node.
func (tc *testCluster) beat() {
	for _, n := range tc.nodes {
		n.Beat(context.Background())
	}
}

func (tc *testCluster) held(i int, typ string) Holding { return tc.nodes[i].Held()[typ] }

func (tc *testCluster) want(i int, typ string, want Holding) {
	tc.t.Helper()
	if got := tc.held(i, typ); got != want {
		tc.t.Errorf("node %d %s: got %+v, want %+v", i+1, typ, got, want)
	}
}

// TestDocumentExample: two nodes with 10 desktop and 10 RMS each; node 1
// uses its 10 RMS, the eleventh borrows one from node 2, up to 20; the
// twenty-first is refused; node 2 cannot use what it lent; licenses go
// back when use drops.
func TestDocumentExample(t *testing.T) {
	tc := startCluster(t, 10, 10)
	n1, n2 := tc.books[0], tc.books[1]
	for i := range 10 {
		if err := n1.admit("rms"); err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
	}
	tc.want(0, "rms", Holding{})
	tc.want(1, "rms", Holding{})
	if err := n1.admit("rms"); err != nil {
		t.Fatalf("eleventh session: %v", err)
	}
	tc.want(0, "rms", Holding{Borrowed: 1})
	tc.want(1, "rms", Holding{Lent: 1})
	tc.want(0, "desktop", Holding{})
	for i := 11; i < 20; i++ {
		if err := n1.admit("rms"); err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
	}
	tc.want(0, "rms", Holding{Borrowed: 10})
	tc.want(1, "rms", Holding{Lent: 10})
	if err := n1.admit("rms"); !errors.Is(err, ErrNoSpare) {
		t.Fatalf("twenty-first session: got %v, want ErrNoSpare", err)
	}
	if err := n2.admit("rms"); !errors.Is(err, ErrNoSpare) {
		t.Fatalf("node 2's own session with all lent: got %v, want ErrNoSpare", err)
	}
	// Node 2's desktop licenses are untouched.
	if err := n2.admit("desktop"); err != nil {
		t.Fatal(err)
	}
	// Heartbeats over several leases keep the loans.
	for range 12 {
		tc.clk.Advance(tc.nodes[0].Lease() / 4)
	}
	tc.want(0, "rms", Holding{Borrowed: 10})
	tc.want(1, "rms", Holding{Lent: 10})
	n1.release("rms", 5)
	tc.want(0, "rms", Holding{Borrowed: 5})
	tc.want(1, "rms", Holding{Lent: 5})
	if err := n2.admit("rms"); err != nil {
		t.Fatalf("node 2's own session after the return: %v", err)
	}
	n1.release("rms", 15)
	tc.want(0, "rms", Holding{})
	tc.want(1, "rms", Holding{})
}

// TestLastSpareToOne: two nodes ask a third for its last spare license at
// the same moment: exactly one gets it.
func TestLastSpareToOne(t *testing.T) {
	tc := startCluster(t, 2, 2, 2)
	lender := tc.books[2]
	lender.use["rms"] = 1
	for i := range 2 {
		tc.books[i].use["rms"] = 2
	}
	for round := range 10 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = tc.books[i].admit("rms")
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, ErrNoSpare) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d borrowers got the last spare license (%v)", round, ok, errs)
		}
		tc.want(2, "rms", Holding{Lent: 1})
		if got := tc.held(0, "rms").Borrowed + tc.held(1, "rms").Borrowed; got != 1 {
			t.Fatalf("round %d: %d borrowed in all", round, got)
		}
		for i := range 2 {
			if tc.books[i].used("rms") == 3 {
				tc.books[i].release("rms", 1)
			}
		}
		tc.want(2, "rms", Holding{})
	}
}

// TestLenderLoss: the lender disappears; the borrower keeps counting the
// loan until its lease runs out, counted from when it last sent a
// renewal the lender answered, then stops.
func TestLenderLoss(t *testing.T) {
	tc := startCluster(t, 1, 1)
	tc.books[0].use["rms"] = 1
	if err := tc.books[0].admit("rms"); err != nil {
		t.Fatal(err)
	}
	lease := tc.nodes[0].Lease()
	tc.clk.Advance(lease / 4) // a renewal the lender answers
	tc.want(0, "rms", Holding{Borrowed: 1})
	tc.nodes[1].Close()
	before := tc.books[0].changed.Load()
	tc.clk.Advance(lease - time.Second)
	tc.want(0, "rms", Holding{Borrowed: 1})
	tc.clk.Advance(time.Second)
	tc.want(0, "rms", Holding{})
	if tc.books[0].changed.Load() == before {
		t.Error("the ledger was not told that the lease ran out")
	}
	if p := tc.nodes[0].Peers()[0]; p.State != StateDown {
		t.Errorf("the lost lender: %+v", p)
	}
}

// TestBorrowerLoss: the borrower disappears; the lender gets its license
// back one lease after the last renewal.
func TestBorrowerLoss(t *testing.T) {
	tc := startCluster(t, 1, 1)
	tc.books[0].use["rms"] = 1
	if err := tc.books[0].admit("rms"); err != nil {
		t.Fatal(err)
	}
	lease := tc.nodes[0].Lease()
	tc.clk.Advance(lease / 4)
	tc.want(1, "rms", Holding{Lent: 1})
	tc.nodes[0].Close()
	tc.clk.Advance(lease - time.Millisecond)
	tc.want(1, "rms", Holding{Lent: 1})
	tc.clk.Advance(time.Millisecond)
	tc.want(1, "rms", Holding{})
	if err := tc.books[1].admit("rms"); err != nil {
		t.Fatalf("the lender's own session after the loan came back: %v", err)
	}
}

// cutter forwards TCP connections to a target until cut.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			if c.down {
				c.mu.Unlock()
				a.Close()
				continue
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				c.mu.Unlock()
				a.Close()
				continue
			}
			c.conns = append(c.conns, a, b)
			c.mu.Unlock()
			go func() { io.Copy(a, b); a.Close() }()
			go func() { io.Copy(b, a); b.Close() }()
		}
	}()
	return c
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = true
	for _, x := range c.conns {
		x.Close()
	}
	c.conns = nil
}

func (c *cutter) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = false
}

// TestPartitionAndHeal: the link between borrower and lender is cut; both
// drop the loan after the lease (the borrower's use is over its installed
// count again); when the link comes back the borrower borrows again by
// itself.
func TestPartitionAndHeal(t *testing.T) {
	tc := &testCluster{t: t, clk: clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), dir: t.TempDir()}
	tc.lns = newListeners(t, 2)
	to0, to1 := newCutter(t, tc.lns[0].Addr().String()), newCutter(t, tc.lns[1].Addr().String())
	tc.nodes, tc.books = make([]*Node, 2), make([]*book, 2)
	tc.start(0, Config{Name: "c", Secret: secret, Peers: []string{to1.ln.Addr().String()}}, 1, tc.lns[0])
	tc.start(1, Config{Name: "c", Secret: secret, Peers: []string{to0.ln.Addr().String()}}, 1, tc.lns[1])
	tc.books[0].use["rms"] = 1
	if err := tc.books[0].admit("rms"); err != nil {
		t.Fatal(err)
	}
	lease := tc.nodes[0].Lease()
	to0.cut()
	to1.cut()
	for range 4 {
		tc.clk.Advance(lease / 4)
	}
	tc.want(0, "rms", Holding{})
	tc.want(1, "rms", Holding{})
	if got := tc.books[0].used("rms"); got != 2 {
		t.Fatalf("use %d", got)
	}
	if p := tc.nodes[0].Peers()[0]; p.State != StateDown {
		t.Errorf("peer across the cut: %+v", p)
	}
	to0.heal()
	to1.heal()
	tc.clk.Advance(lease / 4)
	tc.want(0, "rms", Holding{Borrowed: 1})
	tc.want(1, "rms", Holding{Lent: 1})
	if p := tc.nodes[0].Peers()[0]; p.State != StateUp || p.Node != "node2" || p.LastContact.IsZero() {
		t.Errorf("peer after the heal: %+v", p)
	}
}

// TestLenderRestartKeepsLoans: a lender that restarts still counts what
// it lent (nothing lent twice), and the borrower's renewals keep the
// loan.
func TestLenderRestartKeepsLoans(t *testing.T) {
	tc := startCluster(t, 1, 1, 0)
	tc.books[0].use["rms"] = 1
	if err := tc.books[0].admit("rms"); err != nil {
		t.Fatal(err)
	}
	addr := tc.lns[1].Addr().String()
	tc.nodes[1].Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc.start(1, Config{Name: "cluster1", Secret: secret, Peers: addrs(tc.lns)}, 1, ln)
	tc.want(1, "rms", Holding{Lent: 1})
	// Node 3 has none installed: node 2's only license is lent already.
	if err := tc.books[2].admit("rms"); !errors.Is(err, ErrNoSpare) {
		t.Fatalf("borrowing the license already lent: %v", err)
	}
	for range 8 {
		tc.clk.Advance(tc.nodes[0].Lease() / 4)
	}
	tc.want(0, "rms", Holding{Borrowed: 1})
	tc.want(1, "rms", Holding{Lent: 1})
}

// TestSecretMismatch: a node with another secret, or another cluster
// name, is refused both ways and lends nothing.
func TestSecretMismatch(t *testing.T) {
	for _, tt := range []struct{ name, secret string }{
		{"cluster1", "another secret of some length"},
		{"cluster2", secret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := &testCluster{t: t, clk: clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), dir: t.TempDir()}
			tc.lns = newListeners(t, 2)
			tc.nodes, tc.books = make([]*Node, 2), make([]*book, 2)
			tc.start(0, Config{Name: "cluster1", Secret: secret, Peers: addrs(tc.lns)}, 0, tc.lns[0])
			tc.start(1, Config{Name: tt.name, Secret: tt.secret, Peers: addrs(tc.lns)}, 5, tc.lns[1])
			if err := tc.books[0].admit("rms"); !errors.Is(err, ErrNoSpare) {
				t.Fatalf("borrow: %v", err)
			}
			tc.beat()
			for i, n := range tc.nodes {
				if p := n.Peers()[0]; p.State != StateRefused || p.Node != "" {
					t.Errorf("node %d sees %+v", i+1, p)
				}
			}
			tc.want(1, "rms", Holding{})
		})
	}
}

// TestGarbagePeer: strangers that speak garbage before or after TLS, or
// send an oversized hello, are dropped, and the node keeps lending; a
// "peer" that answers garbage is Down, not trusted.
func TestGarbagePeer(t *testing.T) {
	tc := startCluster(t, 0, 1)
	addr := tc.lns[1].Addr().String()
	send := func(t *testing.T, tlsFirst bool, data string) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var c net.Conn = raw
		if tlsFirst {
			tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, Certificates: tc.nodes[0].tls.Certificates})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			c = tc
		}
		io.WriteString(c, data)
		c.SetReadDeadline(time.Now().Add(handshakeTimeout + time.Second))
		b, _ := io.ReadAll(c)
		if len(b) != 0 {
			t.Errorf("the node answered a stranger: %q", b)
		}
	}
	for _, tt := range []struct {
		name     string
		tlsFirst bool
		data     string
	}{
		{"plain garbage", false, "GET / HTTP/1.0\r\n\r\n"},
		{"garbage hello", true, "{\"v\":1,\"node\":\"x\",\"proof\":\"zz\"}\n"},
		{"wrong proof", true, "{\"v\":1,\"node\":\"x\",\"proof\":\"" + strings.Repeat("00", proofLen) + "\"}\n"},
		{"endless line", true, strings.Repeat("A", 3*maxMessage)},
		{"request before hello", true, "{\"seq\":1,\"op\":\"borrow\",\"type\":\"rms\",\"count\":1}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) { send(t, tt.tlsFirst, tt.data) })
	}
	if err := tc.books[0].admit("rms"); err != nil {
		t.Fatalf("a real peer after the strangers: %v", err)
	}

	// A listener that answers every connection with garbage.
	junk, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	go func() {
		for {
			c, err := junk.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "\x16\x03\x01garbage\n")
				bufio.NewReader(c).ReadString('\n')
			}()
		}
	}()
	ln := newListeners(t, 1)[0]
	clk := clock.NewFake(time.Now())
	b := &book{installed: map[string]int{}, use: map[string]int{"rms": 0}}
	n, err := New(Options{Config: Config{Name: "c", Secret: secret, Peers: []string{junk.Addr().String()}}, Self: "x", Types: types, Ledger: b, Listener: ln, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	b.node = n
	defer n.Close()
	if _, err := n.Borrow(context.Background(), "rms", 1); !errors.Is(err, ErrNoSpare) {
		t.Fatalf("borrowing from a garbage peer: %v", err)
	}
	if p := n.Peers()[0]; p.State == StateUp {
		t.Errorf("garbage peer: %+v", p)
	}
}

// TestStrangerAddressRefused: a connection from an address that is not a
// configured peer is closed before TLS.
func TestStrangerAddressRefused(t *testing.T) {
	clk := clock.NewFake(time.Now())
	ln := newListeners(t, 1)[0]
	b := &book{installed: map[string]int{"rms": 1}, use: map[string]int{}}
	n, err := New(Options{Config: Config{Name: "c", Secret: secret, Peers: []string{"10.9.9.9"}}, Self: "x", Types: types, Ledger: b, Listener: ln, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	b.node = n
	n.Start()
	defer n.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("a stranger's connection: %v, want it closed", err)
	}
}

// TestOneLoanFollowsBorrower: grants to one borrower add to one loan;
// a renewal from a borrower that counts fewer than the lender (part of
// its copy ran out first) shrinks the loan, so nothing stays lent
// unused.
func TestOneLoanFollowsBorrower(t *testing.T) {
	tc := startCluster(t, 0, 5)
	for range 3 {
		if err := tc.books[0].admit("rms"); err != nil {
			t.Fatal(err)
		}
	}
	tc.want(1, "rms", Holding{Lent: 3})
	n := tc.nodes[0]
	n.mu.Lock()
	if len(n.leases) != 1 {
		t.Errorf("%d leases for three grants", len(n.leases))
	}
	for _, l := range n.leases {
		l.count = 1
	}
	n.mu.Unlock()
	tc.books[0].mu.Lock()
	tc.books[0].use["rms"] = 1
	tc.books[0].mu.Unlock()
	before := tc.books[1].changed.Load()
	n.Beat(context.Background())
	tc.want(1, "rms", Holding{Lent: 1})
	if tc.books[1].changed.Load() == before {
		t.Error("the lender's ledger was not told")
	}
}

// TestRenewalDuringBorrowKeepsLoan: a renewal that starts while a grant
// that adds to the same loan is under way names the loan with its count
// after the grant, so the lender does not shrink the loan the borrower
// just grew (which would take back a license an admission was given).
func TestRenewalDuringBorrowKeepsLoan(t *testing.T) {
	tc := startCluster(t, 0, 2)
	ctx := context.Background()
	tc.books[0].use["rms"] = 2
	if _, err := tc.nodes[0].Borrow(ctx, "rms", 1); err != nil {
		t.Fatal(err)
	}
	reached, release := make(chan struct{}), make(chan struct{})
	hook := func() {
		close(reached)
		<-release
	}
	tc.books[1].lendHook.Store(&hook)
	borrowed := make(chan error)
	go func() {
		_, err := tc.nodes[0].Borrow(ctx, "rms", 1)
		borrowed <- err
	}()
	<-reached
	tc.books[1].lendHook.Store(nil)
	renewed := make(chan bool)
	go func() { renewed <- tc.nodes[0].renew(ctx, tc.nodes[0].peers[0]) }()
	// Gives the renewal time to be prepared while the grant waits; the
	// result must not depend on it.
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-borrowed; err != nil {
		t.Fatal(err)
	}
	if dropped := <-renewed; dropped {
		t.Error("the renewal dropped part of the loan")
	}
	tc.want(0, "rms", Holding{Borrowed: 2})
	tc.want(1, "rms", Holding{Lent: 2})
}

// TestClosedNodeMakesNoConnection: requests after Close (a heartbeat
// that was due, an admission's borrow) fail at once and leave no
// connection open to a peer.
func TestClosedNodeMakesNoConnection(t *testing.T) {
	tc := startCluster(t, 0, 1)
	n := tc.nodes[0]
	n.Close()
	n.Beat(context.Background())
	if _, err := n.Borrow(context.Background(), "rms", 1); !errors.Is(err, ErrNoSpare) {
		t.Errorf("borrowing after Close: %v", err)
	}
	for _, p := range n.peers {
		p.xmu.Lock()
		c := p.c
		p.xmu.Unlock()
		if c != nil {
			c.Close()
			t.Errorf("a connection to %s was made after Close", p.addr)
		}
	}
	tc.want(1, "rms", Holding{})
}

// TestLenderRestartWithShorterLease: a lender restarted with a shorter
// lease keeps counting the loans it kept until the longest lease a
// borrower may hold from before the restart has run out.
func TestLenderRestartWithShorterLease(t *testing.T) {
	tc := startCluster(t, 1, 1)
	tc.books[0].use["rms"] = 1
	if err := tc.books[0].admit("rms"); err != nil {
		t.Fatal(err)
	}
	tc.clk.Advance(time.Millisecond) // the first heartbeats: the borrower's lease is 2 minutes
	addr := tc.lns[1].Addr().String()
	tc.nodes[1].Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc.start(1, Config{Name: "cluster1", Secret: secret, Peers: addrs(tc.lns), Lease: MinLease}, 1, ln)
	tc.clk.Advance(MinLease + time.Second)
	tc.want(0, "rms", Holding{Borrowed: 1})
	tc.want(1, "rms", Holding{Lent: 1})
}

// TestSameNameKeepsLoansApart: two borrowers that announce one name
// (cloned VMs with one serial) hold separate loans on the lender, so the
// renewal of one never shrinks the other's (which would let the lender
// lend a license twice), and each sees the other as Refused in its
// Alternates, as the lender sees the second.
func TestSameNameKeepsLoansApart(t *testing.T) {
	lns := newListeners(t, 3)
	tc := &testCluster{t: t, clk: clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), dir: t.TempDir(),
		lns: lns, nodes: make([]*Node, 3), books: make([]*book, 3), names: []string{"clone", "lender", "clone"}}
	cfg := Config{Name: "cluster1", Secret: secret, Peers: addrs(lns)}
	for i, installed := range []int{0, 2, 0} {
		tc.start(i, cfg, installed, lns[i])
	}
	for _, i := range []int{0, 2} {
		if err := tc.books[i].admit("rms"); err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	tc.want(1, "rms", Holding{Lent: 2})
	tc.beat()
	tc.beat()
	tc.want(0, "rms", Holding{Borrowed: 1})
	tc.want(2, "rms", Holding{Borrowed: 1})
	tc.want(1, "rms", Holding{Lent: 2})
	tc.nodes[1].mu.Lock()
	if len(tc.nodes[1].loans) != 2 {
		t.Errorf("the lender holds %d loans for two borrowers", len(tc.nodes[1].loans))
	}
	tc.nodes[1].mu.Unlock()
	refused := func(i int, addr string) {
		t.Helper()
		for _, p := range tc.nodes[i].Peers() {
			if p.Address == addr {
				if p.State != StateRefused || !strings.Contains(p.Reason, "same node name as") {
					t.Errorf("node %d sees %s as %s (%s); want Refused, same node name", i+1, addr, p.State, p.Reason)
				}
				return
			}
		}
		t.Errorf("node %d does not list %s", i+1, addr)
	}
	refused(0, lns[2].Addr().String())
	refused(2, lns[0].Addr().String())
	// The lender refuses whichever clone came up second.
	states := map[string]int{}
	for _, p := range tc.nodes[1].Peers() {
		states[p.State]++
	}
	if states[StateUp] != 1 || states[StateRefused] != 1 {
		t.Errorf("the lender sees the clones as %v; want one Up, one Refused", states)
	}
}

// TestOldLoansFileKept: a loans file written before instance ids (no
// version) is read at start, its loans still count as lent, and the
// first renewal from a borrower of that name adopts the loan, which is
// then that instance's alone.
func TestOldLoansFileKept(t *testing.T) {
	lns := newListeners(t, 2)
	tc := &testCluster{t: t, clk: clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), dir: t.TempDir(),
		lns: lns, nodes: make([]*Node, 2), books: make([]*book, 2)}
	path := filepath.Join(tc.dir, "node2", "loans.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	const id = "00112233445566ff"
	old := `{"loans":[{"id":"` + id + `","borrower":"node1","type":"rms","count":1}]}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	tc.start(1, Config{Name: "cluster1", Secret: secret, Peers: addrs(lns)}, 1, lns[1])
	tc.want(1, "rms", Holding{Lent: 1})
	n := tc.nodes[1]
	me, other := borrower{"node1", "aaaaaaaaaaaaaaaa"}, borrower{"node1", "bbbbbbbbbbbbbbbb"}
	if ans := n.renewLoans(me, []wireLoan{{ID: id, Type: "rms", Count: 1}}); len(ans.Loans) != 1 {
		t.Fatalf("the first renewal of a kept loan: %+v", ans)
	}
	if ans := n.renewLoans(other, []wireLoan{{ID: id, Type: "rms", Count: 1}}); len(ans.Loans) != 0 {
		t.Errorf("another instance of the same name renewed the adopted loan: %+v", ans)
	}
	kept, err := loadLoans(path, types)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].Instance != me.instance {
		t.Errorf("the loans file holds %+v; want the loan adopted by %s", kept, me)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"version": 2`) && !strings.Contains(string(b), `"version":2`) {
		t.Errorf("the loans file has no version 2: %s", b)
	}
	tc.want(1, "rms", Holding{Lent: 1})
}

// nextBeatAt is when the next heartbeat is due (monotonic).
func (n *Node) nextBeatAt() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nextBeat
}

// TestLatePeerSeenUpAtOnce: a peer that starts after this node is seen
// up as soon as it connects, not at this node's next heartbeat a quarter
// lease later.
func TestLatePeerSeenUpAtOnce(t *testing.T) {
	tc := &testCluster{t: t, clk: clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), dir: t.TempDir()}
	tc.lns = newListeners(t, 2)
	peers := addrs(tc.lns)
	tc.nodes, tc.books = make([]*Node, 2), make([]*book, 2)
	// Node 2 is not there yet: nothing listens at its address.
	tc.lns[1].Close()
	tc.start(0, Config{Name: "c", Secret: secret, Peers: peers}, 1, tc.lns[0])
	tc.clk.Advance(time.Millisecond) // node 1's first heartbeat
	if p := tc.nodes[0].Peers()[0]; p.State != StateDown {
		t.Fatalf("the absent peer: %+v", p)
	}
	ln, err := net.Listen("tcp", peers[1])
	if err != nil {
		t.Fatal(err)
	}
	tc.start(1, Config{Name: "c", Secret: secret, Peers: peers}, 1, ln)
	tc.nodes[1].Beat(context.Background()) // node 2's first heartbeat
	tc.clk.Advance(time.Millisecond)
	if p := tc.nodes[0].Peers()[0]; p.State != StateUp || p.Node != "node2" {
		t.Errorf("the late peer 1 ms after it connected: %+v", p)
	}
	// An up peer connecting brings nothing forward.
	next := tc.nodes[0].nextBeatAt()
	tc.nodes[1].peers[0].xmu.Lock()
	tc.nodes[1].peers[0].c.Close()
	tc.nodes[1].peers[0].c = nil
	tc.nodes[1].peers[0].xmu.Unlock()
	tc.nodes[1].Beat(context.Background())
	if got := tc.nodes[0].nextBeatAt(); got != next {
		t.Errorf("next heartbeat moved from %s to %s by a peer already up", next, got)
	}
}
