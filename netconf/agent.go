package netconf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"vxway/agent"
)

// AgentSocket is the licensing agent's local API, relative to the root.
const AgentSocket = agent.SocketPath

// ErrAgentNotRunning marks a device whose licensing agent has no socket
// yet (early boot): there is nothing to tell.
var ErrAgentNotRunning = errors.New("the licensing agent is not running")

// NotifyAgent tells the licensing agent under root that the network or DNS
// configuration changed, so that a registration or renewal waiting for its
// 15-minute retry is tried at once (which is what clears the offline
// alarms 30042 and 30044).
func NotifyAgent(ctx context.Context, root string) error {
	sock := filepath.Join(root, AgentSocket)
	if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
		return ErrAgentNotRunning
	}
	if _, err := agent.NewClient(sock).Retry(ctx); err != nil {
		return fmt.Errorf("asking the licensing agent at %s to retry: %w", sock, err)
	}
	return nil
}
