package main

import (
	"io"

	"vxway/agentclient"
	"vxway/supervise"
	"vxway/sysclient"
	"vxway/webui"
)

// webServer is the web administration interface. Its sign-in events go to
// the console and to /data/log/https.log, beside the services' logs.
func (d *device) webServer() *webui.Server {
	events := io.Writer(d.tagged)
	if d.sup != nil && d.sup.LogDir != "" {
		events = io.MultiWriter(d.tagged, &supervise.RotatingFile{Path: d.path(supervise.LogDir + "/https.log"), MaxSize: logMaxSize, Keep: logKeep})
	}
	return webui.New(webui.Options{
		Root:      d.root,
		Clock:     d.clock,
		Licensing: agentclient.NewClient(d.path(agentclient.SocketPath)),
		Events:    events,
		// Upgrades go through the system service, as the admin CLI's
		// do: it runs in init, but one upgrade or restart at a time
		// is its rule, whoever asks.
		Upgrader: sysclient.NewClient(d.path(sysclient.SocketPath)),
	})
}
