package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"vxway/clock"
)

// LogDir is the directory of the services' logs, below the device root.
const LogDir = "data/log"

// Service is one supervised program.
type Service struct {
	Name string   // names the log file: <LogDir>/<Name>.log
	Path string   // program path on the running system
	Args []string // arguments after argv[0]
	Env  []string // environment; nil means none
	// Credential is the user, group and supplementary groups the program
	// runs as; nil runs it as the supervisor's own user.
	Credential *syscall.Credential
	// Ready blocks until the service is ready to serve, or ctx ends (the
	// process stopped or the supervisor is stopping). Nil means the
	// service counts as ready once started.
	Ready func(ctx context.Context) error
}

// Runner starts programs and waits for them. On the device the Reaper is
// the Runner, so that PID 1's orphan reaping never takes a supervised
// child's exit status.
type Runner interface {
	Start(cmd *exec.Cmd) error
	Wait(cmd *exec.Cmd) error
}

// Direct runs programs with exec.Cmd's own Start and Wait.
type Direct struct{}

// Start calls cmd.Start.
func (Direct) Start(cmd *exec.Cmd) error { return cmd.Start() }

// Wait calls cmd.Wait.
func (Direct) Wait(cmd *exec.Cmd) error { return cmd.Wait() }

// Backoff is the restart delay policy: Min after the first failure,
// doubling after each further one up to Max. A run that lasted Stable or
// longer resets the delay to Min.
type Backoff struct {
	Min, Max, Stable time.Duration
}

// DefaultBackoff is the policy on the device.
var DefaultBackoff = Backoff{Min: time.Second, Max: time.Minute, Stable: 30 * time.Second}

// Delay returns the delay before restart number n (n = 1 is the first).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// EventKind says what happened to a service.
type EventKind int

// The events a Supervisor reports.
const (
	Started   EventKind = iota // the process started (Pid set)
	Ready                      // the readiness check passed
	Exited                     // the process stopped (Err set)
	Scheduled                  // a restart is due after Delay
)

func (k EventKind) String() string {
	return [...]string{"started", "ready", "exited", "scheduled"}[k]
}

// Event is one thing that happened to a service.
type Event struct {
	Service string
	Kind    EventKind
	Run     int // which start this is about, from 1
	Pid     int
	Err     error
	Delay   time.Duration
}

// Supervisor runs a set of services.
type Supervisor struct {
	LogDir     string // absolute directory of the service logs
	LogMaxSize int64  // bytes per log file before it rotates
	LogKeep    int    // rotated files kept per service
	Clock      clock.Clock
	Backoff    Backoff
	Runner     Runner    // Direct when nil
	Console    io.Writer // init's own lines ("init: ..."); may be nil
	// Events, when set, receives every event; the supervisor blocks until
	// each is taken.
	Events chan<- Event

	mu       sync.Mutex
	procs    map[string]*proc
	stopping bool
	wg       sync.WaitGroup
}

type proc struct {
	svc     Service
	log     *RotatingFile
	cmd     *exec.Cmd
	runs    int
	ready   bool
	readyCh chan struct{}
	timer   clock.Timer
	wake    chan struct{}
}

func (s *Supervisor) runner() Runner {
	if s.Runner == nil {
		return Direct{}
	}
	return s.Runner
}

func (s *Supervisor) logf(format string, args ...any) {
	if s.Console != nil {
		fmt.Fprintf(s.Console, "init: "+format+"\n", args...)
	}
}

func (s *Supervisor) emit(e Event) {
	if s.Events != nil {
		s.Events <- e
	}
}

// Start starts every service and keeps it running until Stop.
func (s *Supervisor) Start(services []Service) error {
	s.mu.Lock()
	if s.procs == nil {
		s.procs = map[string]*proc{}
	}
	for _, svc := range services {
		if _, dup := s.procs[svc.Name]; dup || svc.Name == "" {
			s.mu.Unlock()
			return fmt.Errorf("service name %q is empty or used twice", svc.Name)
		}
		s.procs[svc.Name] = &proc{
			svc:     svc,
			log:     &RotatingFile{Path: filepath.Join(s.LogDir, svc.Name+".log"), MaxSize: s.LogMaxSize, Keep: s.LogKeep},
			readyCh: make(chan struct{}),
			wake:    make(chan struct{}, 1),
		}
	}
	ps := make([]*proc, 0, len(services))
	for _, svc := range services {
		ps = append(ps, s.procs[svc.Name])
	}
	s.wg.Add(len(ps))
	s.mu.Unlock()
	for _, p := range ps {
		go s.loop(p)
	}
	return nil
}

// loop runs one service until the supervisor stops.
func (s *Supervisor) loop(p *proc) {
	defer s.wg.Done()
	defer p.log.Close()
	failures := 0
	for {
		started := s.Clock.Now()
		err := s.runOnce(p)
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			return
		}
		if s.Clock.Now().Sub(started) >= s.Backoff.Stable {
			failures = 0
		}
		failures++
		delay := s.Backoff.Delay(failures)
		s.logf("%s stopped (%v); restarting in %v", p.svc.Name, err, delay)
		fmt.Fprintf(p.log, "init: %s stopped (%v); restarting in %v\n", p.svc.Name, err, delay)
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		p.timer = s.Clock.AfterFunc(delay, func() {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		})
		s.mu.Unlock()
		s.emit(Event{Service: p.svc.Name, Kind: Scheduled, Run: p.runs, Delay: delay})
		<-p.wake
		s.mu.Lock()
		stopping = s.stopping
		s.mu.Unlock()
		if stopping {
			return
		}
	}
}

// runOnce starts the service, runs its readiness check, and waits for it
// to stop.
func (s *Supervisor) runOnce(p *proc) error {
	cmd := exec.Command(p.svc.Path, p.svc.Args...)
	cmd.Env = p.svc.Env
	out := &logWriter{log: p.log, console: s.Console, name: p.svc.Name}
	cmd.Stdout, cmd.Stderr = out, out
	// A child left behind holding the output pipe must not keep Wait
	// from returning.
	cmd.WaitDelay = 2 * time.Second
	setProcAttr(cmd, p.svc.Credential)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return errStopping
	}
	p.runs++
	run := p.runs
	err := s.runner().Start(cmd)
	if err == nil {
		p.cmd = cmd
	}
	s.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("starting %s: %w", p.svc.Path, err)
		s.emit(Event{Service: p.svc.Name, Kind: Exited, Run: run, Err: err})
		return err
	}
	s.emit(Event{Service: p.svc.Name, Kind: Started, Run: run, Pid: cmd.Process.Pid})

	ctx, cancel := context.WithCancel(context.Background())
	readyDone := make(chan struct{})
	go func() {
		defer close(readyDone)
		if p.svc.Ready != nil {
			if err := p.svc.Ready(ctx); err != nil {
				return
			}
		}
		s.mu.Lock()
		first := !p.ready
		p.ready = true
		s.mu.Unlock()
		if first {
			close(p.readyCh)
		}
		s.emit(Event{Service: p.svc.Name, Kind: Ready, Run: run})
	}()

	err = s.runner().Wait(cmd)
	cancel()
	<-readyDone
	s.mu.Lock()
	p.cmd = nil
	s.mu.Unlock()
	if err == nil {
		err = errExitedZero
	}
	s.emit(Event{Service: p.svc.Name, Kind: Exited, Run: run, Err: err})
	return err
}

// logWriter sends a service's output to its log and, when the log cannot
// be written (data is not mounted), to the console instead, so the service
// never sees its output fail.
type logWriter struct {
	log     *RotatingFile
	console io.Writer
	name    string
	failed  bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	if _, err := w.log.Write(p); err == nil {
		return len(p), nil
	} else if !w.failed && w.console != nil {
		w.failed = true
		fmt.Fprintf(w.console, "init: %s: %v; its output goes to the console\n", w.name, err)
	}
	if w.console != nil {
		fmt.Fprintf(w.console, "%s: %s", w.name, p)
	}
	return len(p), nil
}

var (
	errStopping   = errors.New("supervisor stopping")
	errExitedZero = errors.New("exit status 0")
)

// WaitReady returns once every service has passed its readiness check at
// least once, or when ctx ends.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	s.mu.Lock()
	var waits []*proc
	for _, p := range s.procs {
		waits = append(waits, p)
	}
	s.mu.Unlock()
	for _, p := range waits {
		select {
		case <-p.readyCh:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be ready: %w", p.svc.Name, ctx.Err())
		}
	}
	return nil
}

// Stop ends every service: SIGTERM to its process group, then SIGKILL for
// those still running after grace. It returns when every service loop has
// ended.
func (s *Supervisor) Stop(grace time.Duration) {
	s.mu.Lock()
	s.stopping = true
	var running []*exec.Cmd
	for _, p := range s.procs {
		if p.timer != nil {
			p.timer.Stop()
		}
		select {
		case p.wake <- struct{}{}:
		default:
		}
		if p.cmd != nil {
			running = append(running, p.cmd)
		}
	}
	s.mu.Unlock()
	for _, cmd := range running {
		signalGroup(cmd, false)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := s.Clock.AfterFunc(grace, func() {
		for _, cmd := range running {
			signalGroup(cmd, true)
		}
	})
	<-done
	t.Stop()
}
