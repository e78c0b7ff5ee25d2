package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"

	"vxway/agentclient"
	"vxway/backup"
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

// backupDevice is the backup of the device, read and staged as root.
func (o systemOps) backupDevice() *backup.Device {
	d := o.d
	return &backup.Device{Root: d.root, Licensing: agentclient.NewClient(d.path(agentclient.SocketPath)), Clock: d.clock}
}

// BackupCreate writes a backup as root's backup command would.
func (o systemOps) BackupCreate(ctx context.Context, password string) (sysclient.BackupMade, error) {
	m, err := o.backupDevice().Create(ctx, password)
	if err != nil {
		return sysclient.BackupMade{}, err
	}
	o.d.logf("backup: wrote %s (%d files)", m.Path, m.Files)
	return sysclient.BackupMade{Path: m.Path, Size: m.Size, Files: m.Files}, nil
}

// BackupRestore checks an archive and stages it; the next boot applies it.
func (o systemOps) BackupRestore(ctx context.Context, file, password string) (sysclient.RestoreStaged, error) {
	st, err := o.backupDevice().Restore(ctx, file, password)
	if err != nil {
		return sysclient.RestoreStaged{}, err
	}
	o.d.logf("backup: restore of %q from %s staged for the next boot", st.Archive, st.Serial)
	return sysclient.RestoreStaged{Archive: st.Archive, Serial: st.Serial, SoftwareVersion: st.SoftwareVersion, Created: st.Created, SameDevice: st.SameDevice}, nil
}

// BackupStatus reads the backup directory and the restore's records.
func (o systemOps) BackupStatus(ctx context.Context) (sysclient.BackupStatus, error) {
	st, err := o.backupDevice().Status(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
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
