package xshell

import (
	"path/filepath"

	"vxway/agentclient"
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
	platform.RegisterXAPI(t, root, c, platform.Hooks{SmartLicensingEnabled: lic.Enable})
	agentclient.RegisterXAPI(t, lic)
	netconf.RegisterXAPI(t, root)
	firstboot.RegisterXAPI(t, root)
	// The upgrade needs root (the ESP, the restart): the shell, which runs
	// as the admin user, asks init's system service for it.
	sys := sysclient.NewClient(filepath.Join(root, sysclient.SocketPath))
	(&upgrade.XAPI{Root: root, Clock: c, System: sys}).Register(t)
	sipclient.RegisterXAPI(t, root, sipclient.NewClient(filepath.Join(root, sipclient.SocketPath)))
	return t
}
