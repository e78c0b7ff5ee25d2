package agent

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/cluster"
	"vxway/platform"
	"vxway/reservation"
)

// Options configure an Agent.
type Options struct {
	// Root is the device root directory ("/" on the device).
	Root string
	// Clock is the time source; clock.Real{} when nil.
	Clock clock.Clock
	// Dial makes the Manager for a configuration; the HTTPS transport when
	// nil.
	Dial Dialer
	// Logf logs one line; nothing is logged when nil. Tokens and passwords
	// are never passed to it.
	Logf func(format string, args ...any)
	// Timeout bounds one exchange with the manager (30 s when zero).
	Timeout time.Duration
	// RetryEvery is the wait after a failed exchange (RetryEvery, 15
	// minutes, when zero); integration tests on real time shorten it.
	RetryEvery time.Duration
	// Hostname and IP report what the device would share with the manager;
	// when nil they come from the platform's system configuration
	// (hostname.domain) and the interfaces.
	Hostname func() string
	IP       func() string
	// ClusterListen is where the cluster node listens for its peers;
	// when empty, the second interface's address on cluster.Port.
	ClusterListen string
}

// Agent is the licensing state machine. All methods are safe for
// concurrent use.
type Agent struct {
	root       string
	clk        clock.Clock
	dial       Dialer
	logf       func(string, ...any)
	timeout    time.Duration
	retryEvery time.Duration
	host       func() string
	ip         func() string

	// op serializes exchanges with the manager (held during I/O).
	op sync.Mutex

	// mu guards everything below.
	mu          sync.Mutex
	st          *State
	cfg         agentclient.Config
	anchor      Anchor
	hasAnchor   bool
	anchorSaved time.Time
	key         *ecdsa.PrivateKey
	alarms      *alarms
	saved       []byte
	timer       clock.Timer
	closed      bool
	// In-memory schedule: retries and the usage tick restart with the
	// process, which is what a restarted agent should do anyway.
	authRetry, renewRetry, pendingRetry time.Time
	usageTick                           time.Time
	newTypeAt                           time.Time
	// peak is the most licenses of each type in use at once since the
	// agent started (Resource usage on the web overview).
	peak   map[string]int
	export exportControl
	real   realUsage
	// resv is the installed reservation as judged at start (or at the
	// last install): hard enforcement keeps it until the next start.
	resv judged
	// dormant is set while Smart Licensing was on but the device is a VCS
	// (a factory reset kept licensing but not brand and type): the kept
	// settings and registration are unused, nothing is exchanged and no
	// licensing alarm is raised, until Service Select converts the
	// device to Expressway again.
	dormant bool
	// bootID is the kernel's id of the current boot, empty when it
	// cannot be read (the reservation is then judged at every start).
	bootID string
	// trustedKeys is the manager keys that sign reservation codes, once
	// read (see trustedKeysLocked).
	trustedKeys *reservation.KeySet
	// trust is the manager's time last learned, nil until an answer
	// came in this run (trust.go). It takes no lock: the TLS handshake
	// of an exchange reads it.
	trust atomic.Pointer[trustPoint]
	// buildTime is the image's build time: a device clock earlier than
	// it is known to be wrong.
	buildTime time.Time
	// cl is the device's member of the cluster (cluster.go).
	cl            clusterState
	clusterListen string
}

// New loads the agent's state from opts.Root. It does not start timers;
// call Start.
func New(opts Options) (*Agent, error) {
	a := &Agent{
		root:    opts.Root,
		clk:     opts.Clock,
		dial:    opts.Dial,
		logf:    opts.Logf,
		timeout: opts.Timeout,
		host:    opts.Hostname,
		ip:      opts.IP,

		clusterListen: opts.ClusterListen,
	}
	if a.clk == nil {
		a.clk = clock.Real{}
	}
	if a.logf == nil {
		a.logf = func(string, ...any) {}
	}
	if a.timeout == 0 {
		a.timeout = defaultTimeout
	}
	a.retryEvery = opts.RetryEvery
	if a.retryEvery <= 0 {
		a.retryEvery = RetryEvery
	}
	if a.host == nil {
		a.host = func() string { return systemHostname(a.root) }
	}
	if a.ip == nil {
		a.ip = firstIPv4
	}
	if a.dial == nil {
		a.dial = func(cfg agentclient.Config) (Manager, error) {
			return newHTTPSManager(a.root, cfg, a.timeout, a.clk, a.tlsTime, a.learn)
		}
	}
	if bt, err := platform.LoadImageBuildTime(a.root); err == nil {
		a.buildTime = bt
	}
	st, err := loadState(a.root)
	if errors.Is(err, errCorrupt) {
		// Atomic writes make this a disk fault; keep the evidence and
		// start unregistered (the anchor on persist keeps evaluation).
		a.setAside(stateFile, err)
		st, err = &State{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	a.st = st
	a.saved, _ = marshalState(st)
	a.cfg, err = loadConfig(a.root)
	if errors.Is(err, errCorrupt) {
		a.setAside(configFile, err)
		a.cfg, err = agentclient.DefaultConfig(), nil
	}
	if err != nil {
		return nil, err
	}
	a.anchor, a.hasAnchor, err = loadAnchor(a.root)
	if errors.Is(err, errCorrupt) {
		// A damaged anchor must not buy a new evaluation: it counts as
		// spent.
		a.setAside(anchorFile, err)
		now := a.clk.Now()
		a.anchor, a.hasAnchor, err = Anchor{Start: now.Add(-EvaluationPeriod), Latest: now}, true, nil
		if err := saveAnchor(a.root, a.anchor); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	a.anchorSaved = a.anchor.Latest
	if _, err := a.adoptLocked(); err != nil {
		return nil, err
	}
	if st.Enabled {
		if a.key, err = loadOrMakeKey(a.root); err != nil {
			return nil, err
		}
		if !a.hasAnchor {
			// persist lost its anchor (a new disk): evaluation starts now,
			// which is the only start this device can prove.
			now := a.clk.Now()
			a.anchor, a.hasAnchor = Anchor{Start: now, Latest: now}, true
			if err := saveAnchor(a.root, a.anchor); err != nil {
				return nil, err
			}
		}
	}
	a.cl.cfg, err = loadClusterConfig(a.root)
	if errors.Is(err, errCorrupt) {
		a.setAside(clusterFile, err)
		a.cl.cfg, err = cluster.Config{}, nil
	}
	if err != nil {
		return nil, err
	}
	a.alarms = loadAlarms(a.root, a.clk)
	a.export = newExportControl()
	a.syncBrandLocked()
	if a.bootID, err = platform.BootID(a.root); err != nil {
		a.logf("licensing: %v; a restart of the agent cannot be told from a restart of the device, so the reservation is judged at every start", err)
	}
	a.judgeAtStart()
	return a, nil
}

// Start runs the first pass of the state machine (renewals and retries
// that are due) and arms the timer for the next deadline.
func (a *Agent) Start() {
	a.mu.Lock()
	a.usageTick = a.clk.Now().Add(UsageReportEvery)
	a.cl.kick, a.cl.done = make(chan struct{}, 1), make(chan struct{})
	a.keepLentLocked()
	a.mu.Unlock()
	go a.runClusterWorker()
	// The node derives its key and opens its listener off the start-up
	// path.
	go a.runCluster(true)
	a.wake()
}

// Close stops the timer and the device's cluster member; an exchange in
// progress finishes.
func (a *Agent) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
	}
	a.saveLatestLocked()
	if a.cl.retry != nil {
		a.cl.retry.Stop()
	}
	a.dropKeptLocked()
	done := a.cl.done
	if a.cl.kick != nil {
		close(a.cl.kick)
	}
	a.mu.Unlock()
	if done != nil {
		<-done
	}
	a.cl.op.Lock()
	a.mu.Lock()
	n := a.cl.node
	a.cl.node = nil
	a.mu.Unlock()
	if n != nil {
		n.Close()
	}
	a.cl.op.Unlock()
}

// saveLocked writes the state when it changed since the last write.
func (a *Agent) saveLocked() error {
	b, err := marshalState(a.st)
	if err != nil {
		return fmt.Errorf("encoding licensing state: %w", err)
	}
	if bytes.Equal(b, a.saved) {
		return nil
	}
	if err := writeFile(a.root, stateFile, b); err != nil {
		return err
	}
	a.saved = b
	return nil
}

// setAside renames a damaged file to <name>.corrupt so that the agent can
// start and the file can still be examined.
func (a *Agent) setAside(rel string, cause error) {
	p := filepath.Join(a.root, rel)
	a.logf("licensing: %v; moved to %s.corrupt", cause, p)
	if err := os.Rename(p, p+".corrupt"); err != nil {
		a.logf("licensing: moving %s aside: %v", p, err)
	}
}
