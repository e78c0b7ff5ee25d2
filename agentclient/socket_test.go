package agentclient

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// shortDir is a directory short enough for a unix socket path.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ac")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestWaitSocket(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		ctx   context.Context
		d     time.Duration
		want  error
	}{
		{name: "accepting", setup: listen, ctx: context.Background(), d: time.Minute},
		{name: "accepting, no deadline", setup: listen, ctx: context.Background()},
		{name: "no socket", setup: func(*testing.T, string) {}, ctx: context.Background(), d: 20 * time.Millisecond, want: ErrAgentDown},
		{name: "stale socket", setup: stale, ctx: context.Background(), d: 20 * time.Millisecond, want: ErrAgentDown},
		{name: "context ends first", setup: func(*testing.T, string) {}, ctx: canceled, d: time.Minute, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "agent.sock")
			tt.setup(t, path)
			err := WaitSocket(tt.ctx, path, tt.d)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("WaitSocket = %v, want %v", err, tt.want)
			}
		})
	}
}

// listen serves path until the test ends.
func listen(t *testing.T, path string) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
}

// stale leaves a socket file that nothing listens on, as a crashed agent
// does.
func stale(t *testing.T, path string) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no stale socket: %v", err)
	}
}
