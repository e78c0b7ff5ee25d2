package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/platform"
)

func TestPolicyCheck(t *testing.T) {
	const self, stranger = 200, 4242
	dev := DevicePolicy(self)
	readOnly := Policy{Read: []uint32{stranger}, Change: []uint32{0}}
	for _, tc := range []struct {
		name   string
		p      Policy
		method string
		uid    uint32
		ok     bool
	}{
		{"root changes", dev, "POST", 0, true},
		{"admin changes", dev, "PUT", platform.UIDAdmin, true},
		{"admin reads", dev, "GET", platform.UIDAdmin, true},
		{"the agent's own user changes", dev, "POST", self, true},
		{"a stranger may not read", dev, "GET", stranger, false},
		{"a stranger may not change", dev, "PUT", stranger, false},
		{"a reader reads", readOnly, "GET", stranger, true},
		{"a reader may not register", readOnly, "POST", stranger, false},
		{"a reader may not set the configuration", readOnly, "PUT", stranger, false},
		{"an empty policy refuses root", Policy{}, "GET", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check(tc.method, tc.uid)
			if tc.ok && err != nil {
				t.Fatalf("Check(%s, %d) = %v, want nil", tc.method, tc.uid, err)
			}
			if !tc.ok && !errors.Is(err, agentclient.ErrNotPermitted) {
				t.Fatalf("Check(%s, %d) = %v, want ErrNotPermitted", tc.method, tc.uid, err)
			}
		})
	}
}

// TestSocketRefusesChangesFromOtherUsers: over the real socket, a user the
// policy lets only read gets the status but is refused a configuration
// change and a registration with ErrNotPermitted, and nothing changes.
func TestSocketRefusesChangesFromOtherUsers(t *testing.T) {
	root := expresswayRoot(t)
	clk := clock.NewFake(t0)
	a := newTestAgent(t, root, clk, newMemManager(clk))
	sock := filepath.Join(root, agentclient.SocketPath)
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m&0o007 != 0 {
		t.Errorf("socket mode %v: others may connect", m)
	}
	me := uint32(os.Getuid())
	p := Policy{Read: []uint32{me}, Change: []uint32{me + 1}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHandler(ctx, ln, a.handler(), p) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	c := agentclient.NewClient(sock)
	if _, err := c.Status(ctx); err != nil {
		t.Fatalf("status as a reader: %v", err)
	}
	before, regBefore := a.Config(), a.Status().Registration
	if _, err := c.SetConfig(ctx, agentclient.LeafProxyPort, "3128"); !errors.Is(err, agentclient.ErrNotPermitted) {
		t.Fatalf("SetConfig as a reader = %v, want ErrNotPermitted", err)
	}
	if _, err := c.Register(ctx, "tok", false); !errors.Is(err, agentclient.ErrNotPermitted) {
		t.Fatalf("Register as a reader = %v, want ErrNotPermitted", err)
	}
	if err := c.SetReservationEnabled(ctx, true); !errors.Is(err, agentclient.ErrNotPermitted) {
		t.Fatalf("SetReservationEnabled as a reader = %v, want ErrNotPermitted", err)
	}
	if after := a.Config(); after != before {
		t.Fatalf("configuration changed by a refused request: %+v -> %+v", before, after)
	}
	if got := a.Status().Registration; got != regBefore {
		t.Fatalf("registration changed by a refused request: %q -> %q", regBefore, got)
	}
}
