// Command cluster measures license sharing between cluster peers on
// host loopback with real time: the borrow decision (a borrower asks a
// lender for one license over the authenticated TLS link, the lender
// decides under its lock, saves the loan and answers), and how long after
// a peer is lost its loans are back on the other side, with the shortest
// lease (cluster.MinLease). Figures only, nothing asserted.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"vxway/cluster"
)

const borrows = 200

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench cluster:", err)
		os.Exit(1)
	}
}

// ledger is a device with installed licenses of one type and its use.
type ledger struct {
	mu        sync.Mutex
	n         *cluster.Node
	installed int
	use       int
}

func (l *ledger) Lend(t string, want int, take func(int) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.n.Held()[t]
	k := min(want, l.installed-l.use-h.Lent)
	if h.Borrowed > 0 || k < 1 || !take(k) {
		return 0
	}
	return k
}

func (l *ledger) WithNeed(t string, f func(int, int)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(max(0, l.use-l.installed), 0)
}

func (l *ledger) Changed() {}

// pair starts a borrower (nothing installed) and a lender.
func pair(dir string, lease time.Duration, installed int) (borrower, lender *cluster.Node, bl *ledger, err error) {
	var lns []net.Listener
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	cfg := cluster.Config{Name: "bench", Secret: "bench secret of some length", Peers: addrs, Lease: lease}
	var nodes []*cluster.Node
	var ledgers []*ledger
	for i, inst := range []int{0, installed} {
		l := &ledger{installed: inst}
		n, err := cluster.New(cluster.Options{Config: cfg, Self: fmt.Sprintf("node%d", i+1), Types: []string{"rms"}, Ledger: l,
			Listener: lns[i], StatePath: filepath.Join(dir, fmt.Sprintf("node%d", i+1), "loans.json")})
		if err != nil {
			return nil, nil, nil, err
		}
		l.n = n
		n.Start()
		nodes, ledgers = append(nodes, n), append(ledgers, l)
	}
	return nodes[0], nodes[1], ledgers[0], nil
}

func run(stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "vxway-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	b, l, bl, err := pair(dir, cluster.DefaultLease, borrows)
	if err != nil {
		return err
	}
	ctx := context.Background()
	// Each borrow is for one more session, as an admission's is; the
	// first heartbeats (at start) have found nothing to do by then, the
	// next come a quarter lease later.
	time.Sleep(100 * time.Millisecond)
	admit := func() {
		bl.mu.Lock()
		bl.use++
		bl.mu.Unlock()
	}
	admit()
	// The first borrow makes the connection (TLS handshake and proofs).
	start := time.Now()
	if _, err := b.Borrow(ctx, "rms", 1); err != nil {
		return err
	}
	first := time.Since(start)
	var took []time.Duration
	for range borrows - 1 {
		admit()
		start := time.Now()
		if _, err := b.Borrow(ctx, "rms", 1); err != nil {
			return err
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	fmt.Fprintf(stdout, "borrow decision over the peer link (loan saved by the lender, fsync): first %s; then median %s, p90 %s, max %s over %d (target: under 50 ms)\n",
		first.Round(time.Microsecond), took[len(took)/2].Round(time.Microsecond), took[len(took)*9/10].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond), len(took))
	bl.mu.Lock()
	bl.use = 0
	bl.mu.Unlock()
	start = time.Now()
	b.Settle(ctx)
	fmt.Fprintf(stdout, "giving back %d loans when use drops: %s\n", borrows, time.Since(start).Round(time.Microsecond))
	b.Close()
	l.Close()

	lease := cluster.MinLease
	for _, lost := range []string{"borrower", "lender"} {
		b, l, bl, err := pair(dir+"/"+lost, lease, 1)
		if err != nil {
			return err
		}
		bl.mu.Lock()
		bl.use = 1
		bl.mu.Unlock()
		// The borrower's settlement borrows what its use needs.
		b.Settle(ctx)
		if b.Held()["rms"].Borrowed != 1 {
			return fmt.Errorf("the borrower did not borrow (peers %+v)", b.Peers())
		}
		time.Sleep(lease / 2) // a renewal or two
		gone, stays := b, l
		watch := func() int { return stays.Held()["rms"].Lent }
		if lost == "lender" {
			gone, stays = l, b
			watch = func() int { return stays.Held()["rms"].Borrowed }
		}
		gone.Close()
		lostAt := time.Now()
		for watch() > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		fmt.Fprintf(stdout, "%s lost: its loan is dropped on the other side %s later (lease %s; within one lease)\n", lost, time.Since(lostAt).Round(time.Millisecond), lease)
		stays.Close()
	}
	return nil
}
