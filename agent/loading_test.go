package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/agentclient"
	"vxway/clock"
)

// serveLoading serves a Loading API on a unix socket until the test ends.
func serveLoading(t *testing.T) (*Loading, *agentclient.Client) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), agentclient.SocketPath)
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoading()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHandler(ctx, ln, l, DevicePolicy(uint32(os.Getuid()))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return l, agentclient.NewClient(sock)
}

// TestLoadingWaitsForReady: requests made while the agent loads are
// answered by the agent handed over with Ready.
func TestLoadingWaitsForReady(t *testing.T) {
	l, c := serveLoading(t)
	type answer struct {
		st  agentclient.Status
		err error
	}
	got := make(chan answer, 2)
	for range 2 {
		go func() {
			st, err := c.Status(context.Background())
			got <- answer{st, err}
		}()
	}
	clk := clock.NewFake(t0)
	a := newTestAgent(t, expresswayRoot(t), clk, newMemManager(clk))
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	l.Ready(a)
	for range 2 {
		r := <-got
		if r.err != nil || !r.st.Enabled {
			t.Errorf("status = enabled %v, %v; want the loaded agent's (enabled)", r.st.Enabled, r.err)
		}
	}
}

// TestLoadingFail: when the agent cannot load, waiting and later
// requests get the reason.
func TestLoadingFail(t *testing.T) {
	l, c := serveLoading(t)
	got := make(chan error, 1)
	go func() {
		_, err := c.Status(context.Background())
		got <- err
	}()
	l.Fail(errors.New("reading state.json: is a directory"))
	for _, err := range []error{<-got, c.Enable(context.Background())} {
		if err == nil || !strings.Contains(err.Error(), "could not start: reading state.json: is a directory") {
			t.Errorf("request while failed = %v, want the reason", err)
		}
	}
}
