package platform

import (
	"errors"
	"os"
	"path/filepath"

	"vxway/clock"
)

// Boot brings the platform state up to date early in every boot, after
// persist and data are mounted: it derives the identity on first boot,
// writes the device configuration when it does not exist yet (so the brand
// a device first booted with stays, whatever later images say), and raises
// or clears the default-password alarms. It returns every problem met
// (errors.Join) and does as much as it can.
func Boot(root string, c clock.Clock) error {
	var errs []error
	if _, err := LoadIdentity(root, c); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(filepath.Join(root, SystemConfigPath)); errors.Is(err, os.ErrNotExist) {
		cfg, err := LoadSystemConfig(root)
		if err == nil {
			err = SaveSystemConfig(root, cfg)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := NewUsers(root, c).SyncAlarms(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
