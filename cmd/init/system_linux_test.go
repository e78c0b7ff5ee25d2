package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"vxway/boot"
	"vxway/clock"
	"vxway/sysclient"
	"vxway/testsupport"
)

// TestSystemServiceReboot: init serves the system service on its socket
// below the root, and a restart asked there goes to init's own shutdown
// path; an upgrade whose download fails answers its reason and does not.
func TestSystemServiceReboot(t *testing.T) {
	root := t.TempDir()
	d := &device{root: root, console: &testsupport.SyncBuffer{}, clock: clock.Real{}, halt: make(chan boot.Halt, 1)}
	d.tagged = d.console
	if err := d.startSystemService(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.mu.Lock()
		d.closing = true
		for _, l := range d.listeners {
			l.Close()
		}
		d.mu.Unlock()
	})
	c := sysclient.NewClient(filepath.Join(root, sysclient.SocketPath))
	ctx := context.Background()
	if _, err := c.Upgrade(ctx, "ftp://nowhere/x.vxu", nil); err == nil || errors.Is(err, sysclient.ErrDown) {
		t.Fatalf("upgrade from an ftp URL: %v, want the download's refusal", err)
	}
	select {
	case h := <-d.halt:
		t.Fatalf("a failed upgrade asked for %v", h)
	default:
	}
	if err := c.Reboot(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-d.halt:
		if h != boot.Reboot {
			t.Errorf("asked for %v, want a reboot", h)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("init was not asked to reboot")
	}
}
