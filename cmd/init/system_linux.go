package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"vxway/boot"
	"vxway/platform"
	"vxway/sysclient"
	"vxway/syssvc"
	"vxway/upgrade"
)

// startSystemService serves the operations that need root to the admin
// account's shell (package syssvc) on sysclient.SocketPath, root and
// group admin, mode 0660, kept serving like SSH and HTTPS.
func (d *device) startSystemService() error {
	path := d.path(sysclient.SocketPath)
	gid := -1
	if d.privsep {
		gid = platform.GIDAdmin
	}
	srv := &syssvc.Server{Ops: systemOps{d}, Log: d.tagged}
	listen := func() (net.Listener, error) { return syssvc.Listen(path, gid) }
	return d.serveOn("system", path, listen, srv.Serve)
}

// systemOps are the system service's operations, carried out by init.
type systemOps struct{ d *device }

// Upgrade installs the bundle at url like root's upgrade command, its
// progress on the console and to the client.
func (o systemOps) Upgrade(ctx context.Context, url string, log io.Writer) (sysclient.UpgradeResult, error) {
	d := o.d
	u := &upgrade.Device{Root: d.root, ESP: upgrade.LinuxESP{Root: d.root}, Clock: d.clock, Log: io.MultiWriter(d.tagged, log)}
	m, slot, err := u.InstallURL(ctx, url, upgrade.Options{})
	if err != nil {
		return sysclient.UpgradeResult{}, err
	}
	return sysclient.UpgradeResult{Version: m.Version, Slot: slot}, nil
}

// Reboot asks init's own clean shutdown for a restart (as SIGTERM to
// PID 1 does).
func (o systemOps) Reboot() error {
	select {
	case o.d.halt <- boot.Reboot:
		return nil
	default:
		return fmt.Errorf("a shutdown is already under way")
	}
}
