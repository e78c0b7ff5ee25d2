package agent

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
)

const crashRootEnv = "VXWAY_AGENT_CRASH_ROOT"

// TestCrashWriterProcess is the child of TestCrashDuringStateWrites: it
// writes licensing states through the agent as fast as it can, announcing
// each count on stdout before writing it, until it is killed.
func TestCrashWriterProcess(t *testing.T) {
	root := os.Getenv(crashRootEnv)
	if root == "" {
		t.Skip("helper process for TestCrashDuringStateWrites")
	}
	a, err := New(Options{Root: root, Clock: clock.Real{}, Dial: func(agentclient.Config) (Manager, error) { return nil, agentclient.ErrTransport }})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	if err := a.Enable(); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	start := a.Status().Usage
	n := 0
	if len(start) > 0 {
		n = start[0].Count
	}
	w := bufio.NewWriter(os.Stdout)
	for i := n + 1; ; i++ {
		fmt.Fprintln(w, i)
		w.Flush()
		if err := a.SetUsage(agentclient.TypeRMS, i); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
	}
}

// TestCrashDuringStateWrites kills a process writing states with SIGKILL
// at random moments, 200 times, and checks that the state always loads
// and is one of the states written.
func TestCrashDuringStateWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("200 process kills")
	}
	root := expresswayRoot(t)
	last := 0
	for trial := range 200 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// Let it write a random number of states (at least one begun).
		stopAfter := 1 + rand.IntN(20)
		announced := last
		for seen := 0; seen < stopAfter && sc.Scan(); seen++ {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("trial %d: child said %q", trial, sc.Text())
			}
			announced = n
		}
		// Kill mid-write at a random moment within the next write.
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				announced = n
			}
		}
		cmd.Wait()

		a, err := New(Options{Root: root, Clock: clock.Real{}})
		if err != nil {
			t.Fatalf("trial %d: state does not load after kill -9: %v", trial, err)
		}
		s := a.Status()
		a.Close()
		got := 0
		if len(s.Usage) == 1 && s.Usage[0].Type == agentclient.TypeRMS {
			got = s.Usage[0].Count
		} else if len(s.Usage) != 0 {
			t.Fatalf("trial %d: loaded usage %+v is no state the writer wrote", trial, s.Usage)
		}
		if !s.Enabled && got != 0 {
			t.Fatalf("trial %d: loaded state lost the enabled flag", trial)
		}
		// The loaded state is one the child wrote: not older than what
		// was known written before this trial, not newer than announced.
		if got < last || got > announced {
			t.Fatalf("trial %d: loaded count %d, want between %d and %d", trial, got, last, announced)
		}
		last = got
	}
	if last == 0 {
		t.Fatal("no state was ever written")
	}
}
