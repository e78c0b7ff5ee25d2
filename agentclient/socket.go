package agentclient

import (
	"context"
	"fmt"
	"net"
	"time"
)

// SocketPath is the agent's local API socket below the device root.
const SocketPath = "run/vxway/smartagent.sock"

// socketPoll is how often WaitSocket tries the socket again.
const socketPoll = 5 * time.Millisecond

// WaitSocket returns once the unix socket at path accepts a connection.
// It gives up with ErrAgentDown after d, or with ctx's error when ctx ends
// first; d <= 0 waits for as long as ctx lasts.
func WaitSocket(ctx context.Context, path string, d time.Duration) error {
	var deadline <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(socketPoll)
	defer tick.Stop()
	var dialer net.Dialer
	for {
		c, err := dialer.DialContext(ctx, "unix", path)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("%w: no socket accepting at %s after %s: %v", ErrAgentDown, path, d, err)
		case <-tick.C:
		}
	}
}
