package main

import (
	"context"
	"time"

	"vxway/boot"
)

// hostnameEvery is how often init looks for a new host name in the device
// configuration.
const hostnameEvery = time.Second

// followHostname sets the kernel's host name whenever the device
// configuration names a new one, until ctx ends: the admin shell changes
// the name there but runs as a user that may not set the kernel's.
// applied is the name set at boot.
func (d *device) followHostname(ctx context.Context, applied string) {
	var tick func()
	tick = func() {
		if ctx.Err() != nil {
			return
		}
		if name, err := boot.Hostname(d.root); err == nil && name != applied {
			applied = name
			if err := d.sys.SetHostname(name); err != nil {
				d.logf("setting the host name to %q: %v", name, err)
			} else {
				d.logf("host name set to %s", name)
			}
		}
		d.clock.AfterFunc(hostnameEvery, tick)
	}
	d.clock.AfterFunc(hostnameEvery, tick)
}
