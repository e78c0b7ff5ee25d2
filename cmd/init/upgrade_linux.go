package main

import (
	"context"

	"vxway/upgrade"
)

// confirmUpgrade runs once the device is ready: it marks the running slot
// good (a new version passed its trial), or records that the new version
// used up its tries and raises the alarm naming it (docs/upgrade.md).
func (d *device) confirmUpgrade(ctx context.Context) {
	u := &upgrade.Device{Root: d.root, ESP: upgrade.LinuxESP{Root: d.root}, Clock: d.clock, Log: d.tagged}
	if err := u.Confirm(ctx); err != nil {
		d.logf("upgrade: %v", err)
	}
}
