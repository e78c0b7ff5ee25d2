package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"vxway/clock"
)

// Ledger is what a node needs from the licensing agent. The node never
// holds its own lock while it calls the ledger; the ledger may call the
// node's Held while it holds its own.
type Ledger interface {
	// Lend is asked for up to want licenses of type t for a peer. Under
	// the lock its own admissions take, it works out how many the node
	// can spare (installed − own use − lent, none while it borrows that
	// type itself) and, when that is at least one, calls take with the
	// number it gives, up to want; take records the loan and reports
	// whether it could. Lend returns the number given.
	Lend(t string, want int, take func(n int) bool) int
	// WithNeed calls f, under the same lock, with how many borrowed
	// licenses of type t the node needs now (its use beyond its
	// installed count) and how many it borrows for admissions not yet
	// counted (pending: borrowed, or being borrowed, for a registration
	// or call that waits to be decided again). f may drop the borrowed
	// ones beyond need + pending, and borrows what need lacks.
	WithNeed(t string, f func(need, pending int))
	// Changed is told that borrowed or lent counts changed without the
	// ledger asking (a lease ran out, a lender dropped a loan, a peer
	// gave one back), so it can judge its usage again.
	Changed()
}

// Options configure a Node.
type Options struct {
	Config Config
	// Self is this node's name as its peers show it (the serial number).
	Self string
	// Types are the license types that can be lent.
	Types []string
	// Ledger is the licensing agent's side.
	Ledger Ledger
	// Listener is where peers connect; Listen is opened when it is nil.
	Listener net.Listener
	Listen   string
	// Clock runs every lease and heartbeat (clock.Real{} when nil).
	Clock clock.Clock
	// StatePath keeps the loans granted across restarts (not kept when
	// empty).
	StatePath string
	// Logf logs one line (nothing when nil).
	Logf func(format string, args ...any)
}

// Peer states.
const (
	StateUnknown = "Unknown" // not contacted yet
	StateUp      = "Up"
	StateDown    = "Down"    // could not be reached
	StateRefused = "Refused" // reached, but it or this node refused the proof of the secret
)

// PeerStatus is one peer as xstatus Alternates shows it.
type PeerStatus struct {
	Address     string    `json:"address"`
	Node        string    `json:"node,omitempty"`
	State       string    `json:"state"`
	LastContact time.Time `json:"last_contact,omitzero"`
	Reason      string    `json:"reason,omitempty"`
}

// Holding is the licenses of one type this node borrows from peers and
// lends to them.
type Holding struct {
	Borrowed int `json:"borrowed,omitempty"`
	Lent     int `json:"lent,omitempty"`
}

// ErrNoSpare is returned when no reachable peer could lend.
var ErrNoSpare = errors.New("no peer has a license to spare")

// ErrClosed is returned by a request made after Close.
var ErrClosed = errors.New("the cluster member is stopped")

// requestTimeout bounds one request and its answer.
const requestTimeout = 2 * time.Second

// peer is one configured peer.
type peer struct {
	addr string
	ap   netip.AddrPort
	// xmu serializes exchanges on c.
	xmu sync.Mutex
	c   *conn
	seq uint64
	// guarded by Node.mu
	status PeerStatus
}

// loan is a license lent to a peer. The borrower is known by its name
// and its instance id: two peers that announce the same name never share
// a loan. A loan kept from a file written before instance ids has none;
// the first renewal naming it from a borrower of that name adopts it.
type loan struct {
	borrower string
	instance string
	typ      string
	count    int
	expires  time.Duration // monotonic
}

// lease is a license borrowed from a peer.
type lease struct {
	from    *peer
	typ     string
	count   int
	expires time.Duration // monotonic: from the moment the request was sent
}

// Node is this device's member of the cluster. Its methods are safe for
// concurrent use.
type Node struct {
	opts  Options
	clk   clock.Clock
	logf  func(string, ...any)
	lease time.Duration
	beat  time.Duration
	key   []byte
	// instance is this run's random id, sent in every hello.
	instance string
	tls      *tls.Config
	ln       net.Listener
	allow    map[netip.Addr]bool
	peers    []*peer

	// beatMu lets one heartbeat or settlement run at a time.
	beatMu sync.Mutex

	mu       sync.Mutex
	loans    map[string]*loan
	leases   map[string]*lease
	served   map[*conn]bool
	timer    clock.Timer
	nextBeat time.Duration
	started  bool
	closed   bool
	wg       sync.WaitGroup
	// stop is cancelled by Close: requests in flight end at once.
	stop   context.Context
	cancel context.CancelFunc
}

// New checks the options, derives the cluster key, makes the link
// certificate and reads the loans kept from a previous run. Start serves.
func New(opts Options) (*Node, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if !opts.Config.Active() {
		return nil, fmt.Errorf("%w: a cluster needs a name, a secret and a peer", ErrBadConfig)
	}
	if err := checkNodeName(opts.Self); err != nil {
		return nil, fmt.Errorf("this node's name: %w", err)
	}
	if opts.Ledger == nil || len(opts.Types) == 0 {
		return nil, errors.New("cluster: a node needs a ledger and license types")
	}
	n := &Node{opts: opts, clk: opts.Clock, logf: opts.Logf, lease: opts.Config.LeaseOrDefault(),
		loans: map[string]*loan{}, leases: map[string]*lease{}, served: map[*conn]bool{}, allow: map[netip.Addr]bool{}}
	if n.clk == nil {
		n.clk = clock.Real{}
	}
	n.stop, n.cancel = context.WithCancel(context.Background())
	if n.logf == nil {
		n.logf = func(string, ...any) {}
	}
	n.beat = n.lease / 4
	n.instance = newID()
	var err error
	if n.key, err = deriveKey(opts.Config.Name, opts.Config.Secret); err != nil {
		return nil, err
	}
	cert, err := selfCertificate(n.clk.Now())
	if err != nil {
		return nil, err
	}
	n.tls = tlsConfig(cert)
	kept, err := loadLoans(opts.StatePath, opts.Types)
	if err != nil {
		return nil, err
	}
	// A borrower may hold a kept loan for up to MaxLease after its last
	// renewal (the lease of the last run may have been longer than this
	// one's), so a kept loan counts that long unless renewed.
	now := n.mono()
	for _, l := range kept {
		n.loans[l.ID] = &loan{borrower: l.Borrower, instance: l.Instance, typ: l.Type, count: l.Count, expires: now + MaxLease}
	}
	if len(kept) > 0 {
		n.logf("cluster: %d loans kept from the last run, each counted for %s unless renewed", len(kept), MaxLease)
	}
	n.ln = opts.Listener
	if n.ln == nil {
		if n.ln, err = net.Listen("tcp", opts.Listen); err != nil {
			return nil, fmt.Errorf("listening for cluster peers on %s: %w", opts.Listen, err)
		}
	}
	self, _ := netip.ParseAddrPort(n.ln.Addr().String())
	for _, a := range opts.Config.Peers {
		if a == "" {
			continue
		}
		ap, _ := ParsePeer(a)
		if ap == self || (ap.Port() == self.Port() && ap.Addr() == self.Addr().Unmap()) {
			continue
		}
		n.peers = append(n.peers, &peer{addr: ap.String(), ap: ap, status: PeerStatus{Address: a, State: StateUnknown}})
		n.allow[ap.Addr()] = true
	}
	return n, nil
}

// Addr is the address peers connect to.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Lease is the lease of a loan.
func (n *Node) Lease() time.Duration { return n.lease }

// Start serves peers and starts the heartbeat (the first at once).
func (n *Node) Start() {
	n.wg.Add(1)
	go n.accept()
	n.mu.Lock()
	n.nextBeat = n.mono()
	n.started = true
	n.armLocked()
	n.mu.Unlock()
}

// Close stops serving and the timers and closes every connection. Loans
// and leases are dropped from memory (the loans granted stay in the
// state file).
func (n *Node) Close() {
	n.cancel()
	n.mu.Lock()
	n.closed = true
	if n.timer != nil {
		n.timer.Stop()
	}
	for c := range n.served {
		c.Close()
	}
	n.mu.Unlock()
	n.ln.Close()
	for _, p := range n.peers {
		p.xmu.Lock()
		if p.c != nil {
			p.c.Close()
			p.c = nil
		}
		p.xmu.Unlock()
	}
	n.wg.Wait()
}

func (n *Node) mono() time.Duration { return clock.Monotonic(n.clk) }

// Held reports, per license type, what this node borrows and lends now.
func (n *Node) Held() map[string]Holding {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.mono()
	out := map[string]Holding{}
	for _, l := range n.leases {
		if l.expires > now {
			h := out[l.typ]
			h.Borrowed += l.count
			out[l.typ] = h
		}
	}
	for _, l := range n.loans {
		if l.expires > now {
			h := out[l.typ]
			h.Lent += l.count
			out[l.typ] = h
		}
	}
	return out
}

// Peers reports every configured peer but this node.
func (n *Node) Peers() []PeerStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]PeerStatus, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p.status)
	}
	return out
}

// Borrow asks the peers, those up first, for count licenses of type t
// until they are found, and reports how many were. Each lease counts
// from the moment its request was sent, so it runs out no later than the
// lender's copy. When no peer gives any it returns ErrNoSpare.
func (n *Node) Borrow(ctx context.Context, t string, count int) (int, error) {
	return n.borrow(ctx, t, count, false)
}

func (n *Node) borrow(ctx context.Context, t string, count int, reachable bool) (int, error) {
	got := 0
	for _, p := range n.ordered(reachable) {
		if got >= count {
			break
		}
		// The answer is recorded before p's exchange lock goes, so a
		// renewal to p never names the loan with its count from before
		// this grant (the lender would shrink it).
		p.xmu.Lock()
		sent := n.mono()
		ans, err := n.exchangeLocked(ctx, p, message{Op: opBorrow, Type: t, Count: count - got})
		if err != nil {
			p.xmu.Unlock()
			continue
		}
		dur := n.leaseFrom(ans)
		n.mu.Lock()
		for _, l := range ans.Loans {
			if l.Type != t || l.Count < 1 || got+l.Count > count {
				// Not what was asked: left to run out on the lender.
				continue
			}
			if old := n.leases[l.ID]; old != nil {
				// Added to a loan this node already holds.
				if old.from != p || old.typ != t {
					continue
				}
				old.count += l.Count
				old.expires = sent + dur
			} else {
				n.leases[l.ID] = &lease{from: p, typ: t, count: l.Count, expires: sent + dur}
			}
			got += l.Count
		}
		n.armLocked()
		n.mu.Unlock()
		p.xmu.Unlock()
	}
	if got == 0 {
		return 0, fmt.Errorf("borrowing %d %s: %w", count, t, ErrNoSpare)
	}
	return got, nil
}

// leaseFrom is the lease of a loan granted or renewed in ans: the
// shorter of the lender's and this node's.
func (n *Node) leaseFrom(ans message) time.Duration {
	if d := time.Duration(ans.LeaseMS) * time.Millisecond; d > 0 && d < n.lease {
		return d
	}
	return n.lease
}

// ordered is the peers to ask: those up first, in configuration order;
// with reachable, not those last found down or refusing.
func (n *Node) ordered(reachable bool) []*peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	var up, rest []*peer
	for _, p := range n.peers {
		switch {
		case p.status.State == StateUp:
			up = append(up, p)
		case !reachable || p.status.State == StateUnknown:
			rest = append(rest, p)
		}
	}
	return append(up, rest...)
}

// Beat is one heartbeat: every peer is asked to renew the leases this
// node holds from it (an empty renewal is the liveness check), leases
// and loans that ran out are dropped, and Settle runs.
func (n *Node) Beat(ctx context.Context) {
	n.beatMu.Lock()
	defer n.beatMu.Unlock()
	changed := false
	var wg sync.WaitGroup
	var cmu sync.Mutex
	for _, p := range n.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n.renew(ctx, p) {
				cmu.Lock()
				changed = true
				cmu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n.expire() {
		changed = true
	}
	if n.settle(ctx) {
		changed = true
	}
	if changed {
		n.opts.Ledger.Changed()
	}
}

// renew renews the leases held from p and reports whether the lender
// dropped any.
func (n *Node) renew(ctx context.Context, p *peer) bool {
	// The renewal names each loan with its count, which the lender takes
	// as the truth: it is read under p's exchange lock, after every
	// grant from p was recorded.
	p.xmu.Lock()
	defer p.xmu.Unlock()
	n.mu.Lock()
	var ids []wireLoan
	for id, l := range n.leases {
		if l.from == p && len(ids) < maxLoans {
			ids = append(ids, wireLoan{ID: id, Type: l.typ, Count: l.count})
		}
	}
	n.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i].ID < ids[j].ID })
	sent := n.mono()
	ans, err := n.exchangeLocked(ctx, p, message{Op: opRenew, Loans: ids})
	if err != nil {
		return false
	}
	held := map[string]int{}
	for _, l := range ans.Loans {
		held[l.ID] = l.Count
	}
	dur := n.leaseFrom(ans)
	n.mu.Lock()
	defer n.mu.Unlock()
	dropped := false
	for _, w := range ids {
		l := n.leases[w.ID]
		if l == nil {
			continue
		}
		c, ok := held[w.ID]
		if !ok || c < 1 {
			delete(n.leases, w.ID)
			dropped = true
			n.logf("cluster: %s no longer lends loan %s (%d %s); it is not counted any more", p.addr, w.ID, l.count, l.typ)
			continue
		}
		if l.expires > sent {
			// Still valid when the renewal was sent: renewed from then.
			l.expires = sent + dur
		}
		if c < l.count {
			l.count, dropped = c, true
		}
	}
	n.armLocked()
	return dropped
}

// expire drops the leases and loans whose time ran out and reports
// whether there were any.
func (n *Node) expire() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.expireLocked()
}

func (n *Node) expireLocked() bool {
	now := n.mono()
	changed, lentChanged := false, false
	for id, l := range n.leases {
		if l.expires <= now {
			delete(n.leases, id)
			changed = true
			n.logf("cluster: the lease of %d %s from %s ran out; they are not counted any more", l.count, l.typ, l.from.addr)
		}
	}
	for id, l := range n.loans {
		if l.expires <= now {
			delete(n.loans, id)
			changed, lentChanged = true, true
			n.logf("cluster: %q did not renew its loan of %d %s; they are back", l.borrower, l.count, l.typ)
		}
	}
	if lentChanged {
		if err := saveLoans(n.opts.StatePath, n.loans); err != nil {
			n.logf("cluster: %v", err)
		}
	}
	return changed
}

// Settle gives back the borrowed licenses the node no longer needs and
// borrows what it needs but does not hold (a lease that ran out during a
// partition, a connected device's use beyond its installed count) from
// the peers not known to be down, then tells the ledger.
func (n *Node) Settle(ctx context.Context) {
	n.beatMu.Lock()
	defer n.beatMu.Unlock()
	if n.settle(ctx) {
		n.opts.Ledger.Changed()
	}
}

func (n *Node) settle(ctx context.Context) bool {
	changed := false
	for _, t := range n.opts.Types {
		back := map[*peer][]wireLoan{}
		missing := 0
		n.opts.Ledger.WithNeed(t, func(need, pending int) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.expireLocked()
			have := 0
			var mine []string
			for id, l := range n.leases {
				if l.typ == t {
					have += l.count
					mine = append(mine, id)
				}
			}
			// Give back the leases closest to running out first.
			sort.Slice(mine, func(i, j int) bool { return n.leases[mine[i]].expires < n.leases[mine[j]].expires })
			keep := need + pending
			for _, id := range mine {
				if have <= keep {
					break
				}
				l := n.leases[id]
				k := min(l.count, have-keep)
				l.count -= k
				have -= k
				if l.count == 0 {
					delete(n.leases, id)
				}
				back[l.from] = append(back[l.from], wireLoan{ID: id, Type: t, Count: k})
				changed = true
			}
			missing = need - have
		})
		for p, ls := range back {
			for len(ls) > 0 {
				k := min(len(ls), maxLoans)
				if _, err := n.exchange(ctx, p, message{Op: opReturn, Loans: ls[:k]}); err != nil {
					n.logf("cluster: giving back %d loans to %s: %v; they run out there after the lease", k, p.addr, err)
				}
				ls = ls[k:]
			}
		}
		if missing > 0 {
			if got, err := n.borrow(ctx, t, missing, true); err == nil {
				changed = true
				n.logf("cluster: borrowed %d %s that the use needs", got, t)
			}
		}
	}
	return changed
}

// armLocked sets the timer for the next heartbeat or the first lease or
// loan to run out.
func (n *Node) armLocked() {
	if n.closed || !n.started {
		return
	}
	next := n.nextBeat
	for _, l := range n.leases {
		next = min(next, l.expires)
	}
	for _, l := range n.loans {
		next = min(next, l.expires)
	}
	if n.timer != nil {
		n.timer.Stop()
	}
	n.timer = n.clk.AfterFunc(max(0, next-n.mono()), n.onTimer)
}

// onTimer runs the heartbeat when it is due and drops what ran out.
func (n *Node) onTimer() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	// Close waits for a heartbeat under way (it marks the node closed
	// under n.mu, so this Add comes before its Wait).
	n.wg.Add(1)
	defer n.wg.Done()
	now := n.mono()
	due := now >= n.nextBeat
	if due {
		n.nextBeat = now + n.beat
	}
	n.mu.Unlock()
	if due {
		ctx, cancel := context.WithTimeout(context.Background(), 2*requestTimeout)
		n.Beat(ctx)
		cancel()
	} else if n.expire() {
		n.opts.Ledger.Changed()
	}
	n.mu.Lock()
	n.armLocked()
	n.mu.Unlock()
}

// exchange sends m to p and reads its answer, over the connection kept
// to p (made, or made again once when it was found broken).
func (n *Node) exchange(ctx context.Context, p *peer, m message) (message, error) {
	p.xmu.Lock()
	defer p.xmu.Unlock()
	return n.exchangeLocked(ctx, p, m)
}

// exchangeLocked is exchange with p.xmu held. A closed node makes no
// connection: Close takes p.xmu after it marks the node closed, so a
// connection made here is either closed by Close or never made.
func (n *Node) exchangeLocked(ctx context.Context, p *peer, m message) (message, error) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return message{}, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(n.stop, cancel)()
	for attempt := 0; ; attempt++ {
		fresh := p.c == nil
		if fresh {
			c, err := dialPeer(ctx, p.addr, n.tls, n.key, n.opts.Self, n.instance)
			if err != nil {
				n.markDown(p, err)
				return message{}, err
			}
			if err := n.checkDuplicate(p, c); err != nil {
				c.Close()
				n.markDown(p, err)
				return message{}, err
			}
			p.c = c
		}
		ans, err := n.roundTrip(ctx, p, m)
		if err == nil {
			n.mu.Lock()
			p.status.State, p.status.Node, p.status.LastContact, p.status.Reason = StateUp, p.c.peer, n.clk.Now(), ""
			n.mu.Unlock()
			return ans, nil
		}
		p.c.Close()
		p.c = nil
		if fresh || attempt > 0 || ctx.Err() != nil {
			n.markDown(p, err)
			return message{}, err
		}
	}
}

func (n *Node) roundTrip(ctx context.Context, p *peer, m message) (message, error) {
	p.seq++
	m.Seq = p.seq
	deadline := time.Now().Add(requestTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := p.c.write(m, deadline); err != nil {
		return message{}, err
	}
	b, err := p.c.read(deadline)
	if err != nil {
		return message{}, err
	}
	ans, err := decodeMessage(b, n.opts.Types)
	if err != nil {
		return message{}, err
	}
	if ans.Op != opAnswer || ans.Seq != m.Seq {
		return message{}, fmt.Errorf("%w: answer %q %d to request %d", errMessage, ans.Op, ans.Seq, m.Seq)
	}
	return ans, nil
}

// errDuplicate refuses a peer that announces the name of this node or of
// another peer that is up.
var errDuplicate = errors.New("refused")

// checkDuplicate refuses a fresh connection to p whose peer announces
// this node's name, or the name of another peer that is up (cloned VMs
// with one serial number, or two without one): each node of a cluster
// needs a name of its own for its peers' Alternates and logs to make
// sense. The first one up keeps the name; p is tried again at every
// heartbeat.
func (n *Node) checkDuplicate(p *peer, c *conn) error {
	if c.instance == n.instance {
		return fmt.Errorf("%w: this is this node itself at another address", errDuplicate)
	}
	if c.peer == n.opts.Self {
		return fmt.Errorf("%w: same node name as this node (%q); give each node its own serial number", errDuplicate, c.peer)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, q := range n.peers {
		if q != p && q.status.State == StateUp && q.status.Node == c.peer {
			return fmt.Errorf("%w: same node name as %s (%q); give each node its own serial number", errDuplicate, q.addr, c.peer)
		}
	}
	return nil
}

// markDown records that p could not be reached, or refused.
func (n *Node) markDown(p *peer, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := StateDown
	if errors.Is(err, errProof) || errors.Is(err, errDuplicate) {
		st = StateRefused
	}
	if p.status.State != st {
		n.logf("cluster: peer %s is %s: %v", p.addr, st, err)
	}
	p.status.State, p.status.Reason = st, err.Error()
}

// accept serves the peers that connect, at most maxConns at once, from
// configured peer addresses only.
func (n *Node) accept() {
	defer n.wg.Done()
	sem := make(chan struct{}, maxConns)
	for {
		raw, err := n.ln.Accept()
		if err != nil {
			n.mu.Lock()
			closed := n.closed
			n.mu.Unlock()
			if closed {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			n.logf("cluster: accepting: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		ap, _ := netip.ParseAddrPort(raw.RemoteAddr().String())
		if !n.allow[ap.Addr().Unmap()] {
			raw.Close()
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			raw.Close()
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer func() { <-sem }()
			n.serve(raw)
		}()
	}
}

// idleLimit is how long a served connection may stay silent: a borrower
// renews every quarter lease.
func (n *Node) idleLimit() time.Duration { return n.lease + 10*time.Second }

// serve runs one peer connection: the proofs, then requests in turn.
func (n *Node) serve(raw net.Conn) {
	defer raw.Close()
	c, err := acceptPeer(raw, n.tls, n.key, n.opts.Self, n.instance)
	if err != nil {
		n.logf("cluster: refused a connection from %s: %v", raw.RemoteAddr(), err)
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.served[c] = true
	n.contactLateLocked()
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.served, c)
		n.mu.Unlock()
	}()
	for {
		b, err := c.read(time.Now().Add(n.idleLimit()))
		if err != nil {
			if errors.Is(err, errMessage) {
				n.logf("cluster: %q at %s: %v", c.peer, raw.RemoteAddr(), err)
			}
			return
		}
		m, err := decodeMessage(b, n.opts.Types)
		if err != nil || m.Op == opAnswer {
			n.logf("cluster: %q at %s sent a bad message; dropping the connection: %v", c.peer, raw.RemoteAddr(), err)
			return
		}
		ans := n.handle(c, m)
		ans.Op, ans.Seq, ans.LeaseMS = opAnswer, m.Seq, n.lease.Milliseconds()
		if err := c.write(ans, time.Now().Add(requestTimeout)); err != nil {
			return
		}
	}
}

// contactLateLocked brings the heartbeat forward to now when a peer has
// connected (its proof checked) while some peer is not up: a peer that
// starts after this node is then seen up at once, not up to a quarter
// lease later. An incoming connection does not show which configured
// peer it comes from (peers may share an address), so the heartbeat
// contacts them all. Only proven peers get here, and each connection
// brings at most one heartbeat forward.
func (n *Node) contactLateLocked() {
	for _, p := range n.peers {
		if p.status.State != StateUp {
			n.nextBeat = min(n.nextBeat, n.mono())
			n.armLocked()
			return
		}
	}
}

// handle carries out one request from the peer of c.
func (n *Node) handle(c *conn, m message) message {
	b := borrower{name: c.peer, instance: c.instance}
	switch m.Op {
	case opBorrow:
		return n.lend(b, m.Type, m.Count)
	case opRenew:
		return n.renewLoans(b, m.Loans)
	case opReturn:
		return n.takeBack(b, m.Loans)
	}
	return message{Refused: true}
}

// borrower is who a loan is lent to: the peer's name and instance id.
type borrower struct{ name, instance string }

func (b borrower) String() string { return fmt.Sprintf("%q (instance %s)", b.name, b.instance) }

// heldBy reports whether l is lent to b. A kept loan without an instance
// id is b's when the name matches (adopt makes it so).
func (l *loan) heldBy(b borrower) bool {
	return l.borrower == b.name && (l.instance == b.instance || l.instance == "")
}

// adopt gives a kept loan without an instance id to b, and reports
// whether it did.
func (l *loan) adopt(b borrower) bool {
	if l.instance != "" {
		return false
	}
	l.instance = b.instance
	return true
}

// lend grants up to count licenses of t to borrower as one loan, if the
// ledger can spare them; the loan is saved before the answer goes.
func (n *Node) lend(borrower borrower, t string, count int) message {
	n.mu.Lock()
	held := 0
	for _, l := range n.loans {
		if l.borrower == borrower.name && l.instance == borrower.instance {
			held++
		}
	}
	n.mu.Unlock()
	if held >= maxLoans {
		return message{Refused: true}
	}
	var granted wireLoan
	n.opts.Ledger.Lend(t, count, func(k int) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closed || k < 1 || k > count {
			return false
		}
		// One loan per borrower and type: a new grant adds to it and
		// renews it.
		id, now := "", n.mono()
		for lid, l := range n.loans {
			if l.borrower == borrower.name && l.instance == borrower.instance && l.typ == t && l.expires > now {
				id = lid
			}
		}
		var undo func()
		if l := n.loans[id]; l != nil {
			old := *l
			l.count += k
			l.expires = now + n.lease
			undo = func() { *l = old }
		} else {
			id = newID()
			n.loans[id] = &loan{borrower: borrower.name, instance: borrower.instance, typ: t, count: k, expires: now + n.lease}
			undo = func() { delete(n.loans, id) }
		}
		if err := saveLoans(n.opts.StatePath, n.loans); err != nil {
			undo()
			n.logf("cluster: not lending: %v", err)
			return false
		}
		n.armLocked()
		granted = wireLoan{ID: id, Type: t, Count: k}
		return true
	})
	if granted.ID == "" {
		return message{}
	}
	n.logf("cluster: lent %d %s to %s (loan %s)", granted.Count, t, borrower, granted.ID)
	return message{Loans: []wireLoan{granted}}
}

// renewLoans renews borrower's loans among ids and answers those it
// still holds. A borrower that counts fewer than the loan (it dropped
// part of it when its copy ran out first) is believed: the loan shrinks
// to its count, so nothing stays lent that nobody uses.
func (n *Node) renewLoans(borrower borrower, ids []wireLoan) message {
	n.mu.Lock()
	now := n.mono()
	var held []wireLoan
	shrunk, adopted := false, false
	for _, w := range ids {
		l := n.loans[w.ID]
		if l == nil || !l.heldBy(borrower) || l.expires <= now {
			continue
		}
		if l.adopt(borrower) {
			adopted = true
		}
		l.expires = now + n.lease
		if w.Count > 0 && w.Count < l.count {
			l.count, shrunk = w.Count, true
		}
		held = append(held, wireLoan{ID: w.ID, Type: l.typ, Count: l.count})
	}
	if shrunk || adopted {
		if err := saveLoans(n.opts.StatePath, n.loans); err != nil {
			n.logf("cluster: %v", err)
		}
	}
	n.armLocked()
	n.mu.Unlock()
	if shrunk {
		n.opts.Ledger.Changed()
	}
	return message{Loans: held}
}

// takeBack takes back what borrower returns.
func (n *Node) takeBack(borrower borrower, ids []wireLoan) message {
	n.mu.Lock()
	changed := false
	for _, w := range ids {
		l := n.loans[w.ID]
		if l == nil || !l.heldBy(borrower) {
			continue
		}
		if w.Count == 0 || w.Count >= l.count {
			delete(n.loans, w.ID)
		} else {
			l.count -= w.Count
		}
		changed = true
	}
	if changed {
		if err := saveLoans(n.opts.StatePath, n.loans); err != nil {
			n.logf("cluster: %v", err)
		}
	}
	n.mu.Unlock()
	if changed {
		n.opts.Ledger.Changed()
	}
	return message{}
}

// newID is a random loan id.
func newID() string {
	var b [idLen / 2]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
