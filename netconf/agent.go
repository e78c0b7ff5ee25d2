package netconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"vxway/agent"
)

// AgentSocket is the licensing agent's local API, relative to the root.
const AgentSocket = agent.SocketPath

// agentRetryPath is the agent's "the network changed, retry now" call.
// An agent without it answers 404; NotifyAgent then asks a registered
// agent to renew its authorization, which is the retry that clears the
// offline alarms (30042, 30044).
const agentRetryPath = "/v1/retry"

// ErrAgentNotRunning marks a device whose licensing agent has no socket
// yet (early boot): there is nothing to tell.
var ErrAgentNotRunning = errors.New("the licensing agent is not running")

// NotifyAgent tells the licensing agent under root that the network or DNS
// configuration changed, so that a registration or renewal waiting for its
// 15-minute retry is tried at once.
func NotifyAgent(ctx context.Context, root string) error {
	sock := filepath.Join(root, AgentSocket)
	if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
		return ErrAgentNotRunning
	}
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://smartagent"+agentRetryPath, strings.NewReader("{}"))
	if err != nil {
		return fmt.Errorf("building the retry request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("calling the licensing agent at %s: %w", sock, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusNotFound {
		return renewInstead(ctx, sock)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("licensing agent answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// renewInstead is the retry through the agent's older API: a registered
// agent renews its authorization now.
func renewInstead(ctx context.Context, sock string) error {
	c := agent.NewClient(sock)
	st, err := c.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the licensing status: %w", err)
	}
	if st.Registration != agent.RegRegistered {
		return nil
	}
	if _, err := c.RenewAuthorization(ctx); err != nil {
		return fmt.Errorf("renewing the authorization: %w", err)
	}
	return nil
}
