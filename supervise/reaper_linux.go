package supervise

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Reaper is PID 1's Runner: it starts and waits for init's own children
// like Direct, and on SIGCHLD it collects the orphans the kernel hands to
// PID 1, leaving the exit status of init's own children to their Wait.
//
// Start holds a shared lock across fork and registration and Reap holds it
// exclusively, so Reap never sees a child of init it does not know about.
type Reaper struct {
	Proc string // the proc filesystem, /proc on the device

	startMu sync.RWMutex
	mu      sync.Mutex
	ours    map[int]bool
}

// Start starts cmd and remembers it as one of init's own.
func (r *Reaper) Start(cmd *exec.Cmd) error {
	r.startMu.RLock()
	defer r.startMu.RUnlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.mu.Lock()
	if r.ours == nil {
		r.ours = map[int]bool{}
	}
	r.ours[cmd.Process.Pid] = true
	r.mu.Unlock()
	return nil
}

// Wait waits for a command started by Start.
func (r *Reaper) Wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	r.mu.Lock()
	delete(r.ours, cmd.Process.Pid)
	r.mu.Unlock()
	return err
}

// Reap collects every zombie child that is not one of init's own and
// returns their pids.
func (r *Reaper) Reap() ([]int, error) {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	zombies, err := r.zombieChildren()
	if err != nil {
		return nil, err
	}
	var reaped []int
	for _, pid := range zombies {
		r.mu.Lock()
		ours := r.ours[pid]
		r.mu.Unlock()
		if ours {
			continue
		}
		var ws syscall.WaitStatus
		if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); err == nil && got == pid {
			reaped = append(reaped, pid)
		}
	}
	return reaped, nil
}

// zombieChildren lists the processes in state Z whose parent is this
// process.
func (r *Reaper) zombieChildren() ([]int, error) {
	proc := r.Proc
	if proc == "" {
		proc = "/proc"
	}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", proc, err)
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] != "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Run reaps orphans on every SIGCHLD until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			_, _ = r.Reap()
		}
	}
}
