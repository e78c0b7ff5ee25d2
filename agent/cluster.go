package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/cluster"
	"vxway/platform"
)

// The device's member of the cluster (package cluster) runs inside the
// agent, which owns the cluster settings and is the ledger the node asks:
// what this device has installed, uses, and can lend.
//
// Installed, per license type: under a reservation (SLR) the reserved
// count (PLR: the box's capacity); when registered (connected) the count
// the manager last answered Authorized for that type (an out-of-compliance
// answer leaves it; a type the manager never authorized is not judged,
// so the device neither lends nor borrows it). In evaluation, or without
// Smart Licensing, nothing is installed and nothing is lent or borrowed.
//
// Under a reservation the installed count is a hard limit: a new
// registration or call that does not fit the device's own licenses plus
// those it borrows minus those it lends first borrows one from a peer and
// is refused only when no peer has one to spare. A connected device is
// never refused for its counts (the manager judges compliance), so it
// borrows in the background what its use needs beyond its installed count.

// clusterFile is the cluster settings, readable by the agent only (it
// holds the secret).
const clusterFile = StateDir + "/cluster.json"

// clusterLoansFile is the loans this device has granted (package cluster
// keeps it).
const clusterLoansFile = StateDir + "/cluster-loans.json"

// borrowTimeout bounds a borrow made while a registration or call waits.
const borrowTimeout = 3 * time.Second

// clusterRetry is the wait before the node is started again when it
// could not start (eth1 has no address yet).
const clusterRetry = 30 * time.Second

// clusterState is the agent's cluster part.
type clusterState struct {
	// op serializes starting and stopping the node.
	op sync.Mutex
	// Guarded by Agent.mu:
	cfg     cluster.Config
	node    *cluster.Node
	started bool
	reason  string
	retry   clock.Timer
	kick    chan struct{}
	done    chan struct{}
	// While no node runs, what the loans file counts as lent, until
	// keptUntil (monotonic): a borrower may hold those loans for up to
	// cluster.MaxLease after the node stopped, so they are not the
	// device's own to use before then. keptTimer judges usage again
	// when they stop counting.
	kept      map[string]int
	keptUntil time.Duration
	keptTimer clock.Timer
	// pending is, per type, the licenses being borrowed for admissions
	// that wait for them (from before the borrow to the end of their
	// second decision): a give-back (use dropping, a heartbeat) keeps
	// them, or it could return one before its admission is counted.
	pending map[string]int
	// afterBorrow, when set (tests), runs after a borrow for waiting
	// admissions, before they are decided again.
	afterBorrow func()
}

// loadClusterConfig reads the cluster settings; a missing file is no
// cluster.
func loadClusterConfig(root string) (cluster.Config, error) {
	p := filepath.Join(root, clusterFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return cluster.Config{}, nil
	}
	if err != nil {
		return cluster.Config{}, fmt.Errorf("reading %s: %w", p, err)
	}
	return parseClusterConfig(b, p)
}

// parseClusterConfig parses and checks the cluster settings file b,
// named p in errors.
func parseClusterConfig(b []byte, p string) (cluster.Config, error) {
	var c cluster.Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return cluster.Config{}, fmt.Errorf("%w: parsing %s: %v", errCorrupt, p, err)
	}
	if err := c.Validate(); err != nil {
		return cluster.Config{}, fmt.Errorf("%w: %s: %v", errCorrupt, p, err)
	}
	return c, nil
}

// saveClusterConfig writes the settings, mode 0600.
func saveClusterConfig(root string, c cluster.Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the cluster settings: %w", err)
	}
	return writeFile(root, clusterFile, append(b, '\n'))
}

// clusterListenLocked is where the node listens: Options.ClusterListen,
// else the second interface's address (Ethernet 2, platform's
// ManagementConfig) on cluster.Port.
func (a *Agent) clusterListenLocked() (string, error) {
	if a.clusterListen != "" {
		return a.clusterListen, nil
	}
	mc, err := platform.LoadManagementConfig(a.root)
	if err != nil {
		return "", err
	}
	if mc.Address == "" {
		return "", errors.New("the second network interface has no address; set it with xconfiguration Ethernet 2 IP V4 Address and SubnetMask, then restart")
	}
	p, err := mc.Prefix()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(p.Addr().String(), strconv.Itoa(cluster.Port)), nil
}

// startCluster (re)starts the node with the settings in force. The old
// node stops first: what it borrowed is no longer counted, what it lent
// stays counted through the loans file.
func (a *Agent) startCluster() { a.runCluster(false) }

// runCluster (re)starts the node; at start-up (first) it does nothing
// when a setting change started it already.
func (a *Agent) runCluster(first bool) {
	a.cl.op.Lock()
	defer a.cl.op.Unlock()
	a.mu.Lock()
	if first && a.cl.started {
		a.mu.Unlock()
		return
	}
	a.cl.started = true
	old := a.cl.node
	a.cl.node = nil
	// From here on the old node lends nothing more (the ledger checks
	// it is the current node); its loans count until a new node runs.
	// Without an old node (a retry, a change while none ran) what is
	// kept already counts from when the last one stopped.
	if old != nil {
		a.keepLentLocked()
	}
	if a.cl.retry != nil {
		a.cl.retry.Stop()
		a.cl.retry = nil
	}
	cfg, closed := a.cl.cfg, a.closed
	a.mu.Unlock()
	if old != nil {
		old.Close()
	}
	if closed || !cfg.Active() {
		a.mu.Lock()
		a.cl.reason = ""
		a.settleAlarmsLocked()
		a.mu.Unlock()
		return
	}
	a.mu.Lock()
	listen, err := a.clusterListenLocked()
	self := a.serialLocked()
	a.mu.Unlock()
	var n *cluster.Node
	lg := &clusterLedger{a: a}
	if err == nil {
		n, err = cluster.New(cluster.Options{Config: cfg, Self: self, Types: licenseTypes(), Ledger: lg, Listen: listen,
			Clock: a.clk, StatePath: filepath.Join(a.root, clusterLoansFile), Logf: a.logf})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.cl.reason = err.Error()
		a.logf("cluster: not running: %v; trying again in %s", err, clusterRetry)
		a.cl.retry = a.clk.AfterFunc(clusterRetry, func() { a.startCluster() })
		return
	}
	lg.n = n
	a.cl.node, a.cl.reason = n, ""
	a.dropKeptLocked()
	a.logf("cluster: %q: listening for peers on %s", cfg.Name, n.Addr())
	n.Start()
}

// serialLocked is the device's serial number, its name among its peers.
func (a *Agent) serialLocked() string {
	udi := a.udiLocked()
	for _, f := range strings.Split(udi, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(f), "UDI_SN:"); ok && v != "" {
			return v
		}
	}
	return "unknown"
}

// runClusterWorker gives back and borrows in the background when asked
// (kickClusterLocked) until the agent closes.
func (a *Agent) runClusterWorker() {
	defer close(a.cl.done)
	for range a.cl.kick {
		a.mu.Lock()
		n := a.cl.node
		a.mu.Unlock()
		if n != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			n.Settle(ctx)
			cancel()
		}
	}
}

// kickClusterLocked asks the worker to settle the loans: use dropped, or
// a connected device uses more than it holds.
func (a *Agent) kickClusterLocked() {
	if a.cl.node == nil || a.cl.kick == nil || a.closed {
		return
	}
	select {
	case a.cl.kick <- struct{}{}:
	default:
	}
}

// holdingLocked is what the node borrows and lends of type t; while no
// node runs, the loans a borrower may still hold.
func (a *Agent) holdingLocked(t string) cluster.Holding {
	if a.cl.node == nil {
		if clock.Monotonic(a.clk) < a.cl.keptUntil {
			return cluster.Holding{Lent: a.cl.kept[t]}
		}
		return cluster.Holding{}
	}
	return a.cl.node.Held()[t]
}

// keepLentLocked counts the loans in the loans file as lent for
// cluster.MaxLease while no node runs.
func (a *Agent) keepLentLocked() {
	a.dropKeptLocked()
	lent, err := cluster.KeptLent(filepath.Join(a.root, clusterLoansFile), licenseTypes())
	if err != nil {
		a.logf("cluster: %v; the loans it holds are not counted while the cluster member is stopped", err)
		return
	}
	total := 0
	for _, k := range lent {
		total += k
	}
	if total == 0 || a.closed {
		return
	}
	a.cl.kept, a.cl.keptUntil = lent, clock.Monotonic(a.clk)+cluster.MaxLease
	a.cl.keptTimer = a.clk.AfterFunc(cluster.MaxLease, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.closed {
			a.settleAlarmsLocked()
		}
	})
}

// dropKeptLocked stops counting the kept loans (a node runs and counts
// them itself, or the agent closes).
func (a *Agent) dropKeptLocked() {
	if a.cl.keptTimer != nil {
		a.cl.keptTimer.Stop()
		a.cl.keptTimer = nil
	}
	a.cl.kept, a.cl.keptUntil = nil, 0
}

// installedLocked is this device's own licenses of type t and whether
// its use is judged against them (see the top of this file).
func (a *Agent) installedLocked(t string) (int, bool) {
	if a.reservedLocked() {
		n, _ := a.reservedLimitLocked(t)
		return n, true
	}
	st := a.standingLocked(a.nowLocked())
	if st != standingRegistered {
		return 0, false
	}
	n, judged := a.st.Registration.Authorized[t]
	return n, judged
}

// needLocked is how many borrowed licenses of type t the device needs
// now: its use and what it lends beyond what it has installed.
func (a *Agent) needLocked(t string) int {
	inst, limited := a.installedLocked(t)
	if !limited {
		return 0
	}
	return max(0, a.usageLocked()[t]+a.holdingLocked(t).Lent-inst)
}

// reportedUsageLocked is the usage sent to the manager: per type, the
// use of the device's own licenses (use minus borrowed) plus what it
// lends. A borrowed license is reported by its lender only, so a node
// never reports more than its installed count for the use its peers
// cover (the document's example: a node carrying 20 with 10 borrowed
// reports 10).
func (a *Agent) reportedUsageLocked() map[string]int {
	u := a.usageLocked()
	out := map[string]int{}
	for _, t := range licenseTypes() {
		h := a.holdingLocked(t)
		if n := max(0, u[t]-h.Borrowed) + h.Lent; n > 0 {
			out[t] = n
		}
	}
	return out
}

// licenseLinesLocked is every type's installed, in use, borrowed and
// lent counts.
func (a *Agent) licenseLinesLocked(inUse map[string]int) []agentclient.LicenseLine {
	var out []agentclient.LicenseLine
	for _, t := range licenseTypes() {
		inst, _ := a.installedLocked(t)
		h := a.holdingLocked(t)
		out = append(out, agentclient.LicenseLine{Type: t, Name: typeName(t), Installed: inst, InUse: inUse[t], Borrowed: h.Borrowed, Lent: h.Lent})
	}
	return out
}

// pendLocked counts n licenses of type t as pending for waiting
// admissions; the returned func, called under a.mu once they are decided
// again (or not borrowed), stops counting them.
func (a *Agent) pendLocked(t string, n int) func() {
	if a.cl.pending == nil {
		a.cl.pending = map[string]int{}
	}
	a.cl.pending[t] += n
	return func() {
		if a.cl.pending[t] -= n; a.cl.pending[t] <= 0 {
			delete(a.cl.pending, t)
		}
	}
}

// unpend calls each of fs (from pendLocked) under a.mu.
func (a *Agent) unpend(fs []func()) {
	if len(fs) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// borrow asks the cluster for n licenses of type t while a registration
// or call waits, and reports whether any came. The caller counts them as
// pending (pendLocked) until the admissions are decided again.
func (a *Agent) borrow(t string, n int) bool {
	a.mu.Lock()
	node := a.cl.node
	a.mu.Unlock()
	if node == nil || n < 1 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), borrowTimeout)
	defer cancel()
	start := time.Now()
	got, err := node.Borrow(ctx, t, n)
	took := time.Since(start).Round(time.Microsecond)
	if err != nil {
		a.logf("cluster: %v (asked for %s)", err, took)
		return false
	}
	a.logf("cluster: borrowed %d %s for an admission in %s", got, t, took)
	return true
}

// clusterLedger is the agent as the node's ledger.
type clusterLedger struct {
	a *Agent
	n *cluster.Node
}

// Lend gives up to want of type t when the device has them to spare:
// installed − use − lent, none while it borrows that type itself.
func (l *clusterLedger) Lend(t string, want int, take func(int) bool) int {
	a := l.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cl.node != l.n {
		return 0
	}
	inst, limited := a.installedLocked(t)
	h := l.n.Held()[t]
	if !limited || h.Borrowed > 0 {
		return 0
	}
	k := min(want, inst-a.usageLocked()[t]-h.Lent)
	if k < 1 || !take(k) {
		return 0
	}
	return k
}

// WithNeed calls f with the borrowed licenses of type t needed now, and
// those borrowed for admissions not yet decided again.
func (l *clusterLedger) WithNeed(t string, f func(need, pending int)) {
	a := l.a
	a.mu.Lock()
	defer a.mu.Unlock()
	need, pending := 0, 0
	if a.cl.node == l.n {
		need, pending = a.needLocked(t), a.cl.pending[t]
	}
	f(need, pending)
}

// Changed judges the usage again (statuses, alarms).
func (l *clusterLedger) Changed() {
	a := l.a
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settleAlarmsLocked()
}

// Cluster reports the cluster settings (without the secret) and state.
func (a *Agent) Cluster() agentclient.ClusterInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cl.cfg
	ci := agentclient.ClusterInfo{Config: agentclient.ClusterConfig{Name: c.Name, SecretSet: c.Secret != "", LeaseSeconds: int(c.Lease / time.Second)}}
	ci.Config.Peers = make([]string, agentclient.MaxClusterPeers)
	copy(ci.Config.Peers, c.Peers)
	s := agentclient.ClusterStatus{Name: c.Name, State: agentclient.ClusterOff, LeaseSeconds: int(c.LeaseOrDefault() / time.Second), Peers: []agentclient.PeerStatus{}}
	switch {
	case a.cl.node != nil:
		s.State, s.Address = agentclient.ClusterActive, a.cl.node.Addr()
		for _, p := range a.cl.node.Peers() {
			slot := 0
			for i, addr := range c.Peers {
				if addr == p.Address {
					slot = i + 1
				}
			}
			s.Peers = append(s.Peers, agentclient.PeerStatus{Slot: slot, Address: p.Address, Node: p.Node, State: p.State, LastContact: p.LastContact, Reason: p.Reason})
		}
	case a.closed && c.Active():
		s.State = agentclient.ClusterStopped
	case c.Active():
		s.State, s.Reason = agentclient.ClusterFailed, a.cl.reason
		if s.Reason == "" {
			s.Reason = "starting"
		}
	case c.Name != "" || c.Secret != "" || strings.Join(c.Peers, "") != "":
		s.Reason = "incomplete: a cluster needs a name, a secret and at least one peer address"
	}
	ci.Status = s
	return ci
}

// SetCluster sets one cluster setting (agentclient.LeafCluster*) and
// restarts the node with it. It is refused while the device is
// Unauthorized (evaluation over, not registered); in evaluation it is
// allowed. An invalid value is refused with the reason and changes
// nothing.
func (a *Agent) SetCluster(leaf, value string) (agentclient.ClusterInfo, error) {
	value = strings.TrimSpace(value)
	a.mu.Lock()
	if a.unauthorizedLocked(a.nowLocked()) {
		a.mu.Unlock()
		return agentclient.ClusterInfo{}, fmt.Errorf("%w: the evaluation period is over and the device is not registered, so cluster changes are refused; register the device first", agentclient.ErrUnauthorized)
	}
	c := a.cl.cfg
	c.Peers = append([]string(nil), c.Peers...)
	switch {
	case leaf == agentclient.LeafClusterName:
		c.Name = value
	case leaf == agentclient.LeafClusterSecret:
		c.Secret = value
	case leaf == agentclient.LeafClusterLease:
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			a.mu.Unlock()
			return agentclient.ClusterInfo{}, fmt.Errorf("%w: lease %q is not a number of seconds; give 0 for the default (%s) or %d to %d", agentclient.ErrInvalidConfig, value, cluster.DefaultLease, int(cluster.MinLease/time.Second), int(cluster.MaxLease/time.Second))
		}
		c.Lease = time.Duration(n) * time.Second
	case strings.HasPrefix(leaf, agentclient.LeafClusterPeer+" "):
		i, err := strconv.Atoi(strings.TrimPrefix(leaf, agentclient.LeafClusterPeer+" "))
		if err != nil || i < 1 || i > agentclient.MaxClusterPeers {
			a.mu.Unlock()
			return agentclient.ClusterInfo{}, fmt.Errorf("%w: peer %q; peers are numbered 1 to %d", agentclient.ErrInvalidConfig, leaf, agentclient.MaxClusterPeers)
		}
		if value != "" {
			ap, err := cluster.ParsePeer(value)
			if err != nil {
				a.mu.Unlock()
				return agentclient.ClusterInfo{}, fmt.Errorf("%w: %v", agentclient.ErrInvalidConfig, err)
			}
			if ap.Port() == cluster.Port {
				value = ap.Addr().String()
			}
		}
		for len(c.Peers) < i {
			c.Peers = append(c.Peers, "")
		}
		c.Peers[i-1] = value
		for len(c.Peers) > 0 && c.Peers[len(c.Peers)-1] == "" {
			c.Peers = c.Peers[:len(c.Peers)-1]
		}
	default:
		a.mu.Unlock()
		return agentclient.ClusterInfo{}, fmt.Errorf("%w: cluster setting %q is unknown", agentclient.ErrInvalidConfig, leaf)
	}
	if err := c.Validate(); err != nil {
		a.mu.Unlock()
		return agentclient.ClusterInfo{}, fmt.Errorf("%w: %v", agentclient.ErrInvalidConfig, err)
	}
	if err := saveClusterConfig(a.root, c); err != nil {
		a.mu.Unlock()
		return agentclient.ClusterInfo{}, err
	}
	a.cl.cfg = c
	a.mu.Unlock()
	a.startCluster()
	return a.Cluster(), nil
}
