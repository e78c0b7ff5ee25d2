package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vxway/agentclient"
)

// TestSocketAcceptsWhileLoading: the local API socket accepts as soon as
// the daemon runs (init's readiness check at boot), before the state is
// loaded; a request made meanwhile waits and is answered from the loaded
// state, never from a half-loaded one. The state file is a named pipe, so
// loading blocks until the test writes the state into it.
func TestSocketAcceptsWhileLoading(t *testing.T) {
	bin, _ := binaries(t)
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "data/config/system.json"), []byte(`{"hostname":"vxtest","brand":"Expressway","type":"Expressway-C","smart_licensing_enabled":true}`))
	state := filepath.Join(root, "data/licensing/state.json")
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(state, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--root", root)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	logs := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()

	socket := filepath.Join(root, agentclient.SocketPath)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		c, err := net.Dial("unix", socket)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the socket never accepted: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}

	type answer struct {
		st  agentclient.Status
		err error
	}
	got := make(chan answer, 1)
	go func() {
		st, err := agentclient.NewClient(socket).Status(ctx)
		got <- answer{st, err}
	}()
	// The state cannot be loaded before it is written into the pipe, so
	// an answer now would come from a half-loaded agent.
	select {
	case a := <-got:
		t.Fatalf("status answered before the state was loaded: %+v, %v", a.st, a.err)
	case <-time.After(300 * time.Millisecond):
	}
	f, err := os.OpenFile(state, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"version":1,"enabled":true,"usage":{"rms":7}}`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	if !a.st.Enabled || len(a.st.Usage) != 1 || a.st.Usage[0].Type != agentclient.TypeRMS || a.st.Usage[0].Count != 7 {
		t.Errorf("status after loading = enabled %v, usage %+v; want enabled with 7 rms from the state file", a.st.Enabled, a.st.Usage)
	}
	for line := range logs {
		if strings.Contains(line, "serving the local API") {
			return
		}
	}
	t.Error("the daemon never said it serves the local API")
}

// TestUnreadableStateStops: a daemon that cannot load its state says
// why and exits (init restarts it), though its socket was already open.
func TestUnreadableStateStops(t *testing.T) {
	bin, _ := binaries(t)
	root := t.TempDir()
	// A directory where the state file belongs cannot be read: loading
	// fails (it is not a damaged file that could be set aside).
	if err := os.MkdirAll(filepath.Join(root, "data/licensing/state.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--root", root).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("smartagent on an unreadable state: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "starting the agent") || !strings.Contains(string(out), "state.json") {
		t.Errorf("output does not name the state file:\n%s", out)
	}
}
