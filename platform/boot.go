package platform

import (
	"errors"

	"vxway/clock"
)

// Boot brings the platform state up to date early in every boot, after
// persist and data are mounted: it derives the identity on first boot and
// raises or clears the default-password alarms. It leaves the device
// configuration alone: until something is set, system.json does not exist
// and the image's defaults apply (first-boot provisioning relies on that to
// tell a fresh device). It returns every problem met (errors.Join) and does
// as much as it can.
func Boot(root string, c clock.Clock) error {
	var errs []error
	if _, err := LoadIdentity(root, c); err != nil {
		errs = append(errs, err)
	}
	if err := NewUsers(root, c).SyncAlarms(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
