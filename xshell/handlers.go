package xshell

import (
	"context"
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
	var reboot func() error
	if root == "/" {
		reboot = backup.RequestReboot
	}
	backup.RegisterXAPI(t, &backup.Device{Root: root, Licensing: lic, Clock: c}, reboot)
	return t
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
