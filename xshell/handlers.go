package xshell

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"vxway/agentclient"
	"vxway/backup"
	"vxway/clock"
	"vxway/firstboot"
	"vxway/netconf"
	"vxway/platform"
	"vxway/sipclient"
	"vxway/sysclient"
	"vxway/upgrade"
	"vxway/xapi"
)

// NewTree builds the device's xAPI: every component registers its nodes
// here, one line each.
func NewTree(root string, c clock.Clock) *xapi.Tree {
	t := &xapi.Tree{}
	lic := agentclient.NewClient(filepath.Join(root, agentclient.SocketPath))
	platform.RegisterXAPI(t, root, c, platform.Hooks{SmartLicensingEnabled: lic.Enable, ExportControlAllowed: exportControlAllowed(root, lic)})
	agentclient.RegisterXAPI(t, lic)
	netconf.RegisterXAPI(t, root)
	firstboot.RegisterXAPI(t, root)
	// The upgrade needs root (the ESP, the restart): the shell, which runs
	// as the admin user, asks init's system service for it.
	sys := sysclient.NewClient(filepath.Join(root, sysclient.SocketPath))
	(&upgrade.XAPI{Root: root, Clock: c, System: sys}).Register(t)
	sipclient.RegisterXAPI(t, root, sipclient.NewClient(filepath.Join(root, sipclient.SocketPath)))
	// A backup reads root's files (the SSH host key) and a restore stages
	// root's: init's system service does both, and the restart.
	var reboot func() error
	if root == "/" {
		reboot = func() error { return sys.Reboot(context.Background()) }
	}
	backup.RegisterXAPI(t, root, systemBackup{sys}, reboot)
	return t
}

// systemBackup makes and restores backups through init's system service.
type systemBackup struct{ c *sysclient.Client }

func (s systemBackup) Create(ctx context.Context, password string) (backup.Made, error) {
	m, err := s.c.BackupCreate(ctx, password)
	return backup.Made{Path: m.Path, Size: m.Size, Files: m.Files}, err
}

func (s systemBackup) Status(ctx context.Context) (backup.Status, error) {
	var st backup.Status
	b, err := s.c.BackupStatus(ctx)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reading the backup status: %w", err)
	}
	return st, nil
}

func (s systemBackup) Restore(ctx context.Context, file, password string) (*backup.Staged, error) {
	st, err := s.c.BackupRestore(ctx, file, password)
	if err != nil {
		return nil, err
	}
	return &backup.Staged{Archive: st.Archive, Serial: st.Serial, SoftwareVersion: st.SoftwareVersion, Created: st.Created, SameDevice: st.SameDevice}, nil
}

// exportControlAllowed reports whether the licensing state allows
// export-controlled functionality: not when the registration's token, or
// the installed reservation, did not allow it. A VCS (option keys) and a
// device in evaluation are not restricted.
func exportControlAllowed(root string, lic *agentclient.Client) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		if on, err := platform.SmartLicensingEnabled(root); err != nil || !on {
			return true, err
		}
		st, err := lic.Status(ctx)
		if err != nil {
			return false, err
		}
		return st.ExportControlled != agentclient.ExportNotAllowed, nil
	}
}
