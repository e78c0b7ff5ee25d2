package netconf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"vxway/agentclient"
)

// ErrAgentNotRunning marks a device whose licensing agent has no socket
// yet (early boot): there is nothing to tell.
var ErrAgentNotRunning = errors.New("the licensing agent is not running")

// NotifyAgent tells the licensing agent under root that the network or DNS
// configuration changed, so that a registration or renewal waiting for its
// 15-minute retry is tried at once (which is what clears the offline
// alarms 30042 and 30044).
func NotifyAgent(ctx context.Context, root string) error {
	sock := filepath.Join(root, agentclient.SocketPath)
	if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
		return ErrAgentNotRunning
	}
	if _, err := agentclient.NewClient(sock).Retry(ctx); err != nil {
		return fmt.Errorf("asking the licensing agent at %s to retry: %w", sock, err)
	}
	return nil
}
