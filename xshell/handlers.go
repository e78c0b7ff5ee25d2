package xshell

import (
	"path/filepath"

	"vxway/agentclient"
	"vxway/backup"
	"vxway/clock"
	"vxway/firstboot"
	"vxway/netconf"
	"vxway/platform"
	"vxway/xapi"
)

// NewTree builds the device's xAPI: every component registers its nodes
// here, one line each.
func NewTree(root string, c clock.Clock) *xapi.Tree {
	t := &xapi.Tree{}
	lic := agentclient.NewClient(filepath.Join(root, agentclient.SocketPath))
	platform.RegisterXAPI(t, root, c, platform.Hooks{SmartLicensingEnabled: lic.Enable})
	agentclient.RegisterXAPI(t, lic)
	netconf.RegisterXAPI(t, root)
	firstboot.RegisterXAPI(t, root)
	var reboot func() error
	if root == "/" {
		reboot = backup.RequestReboot
	}
	backup.RegisterXAPI(t, &backup.Device{Root: root, Licensing: lic, Clock: c}, reboot)
	return t
}
