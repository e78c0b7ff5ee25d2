package platform

import (
	"errors"
	"fmt"

	"vxway/clock"
)

// ErrSmartLicensingOn marks a change Smart Licensing forbids.
var ErrSmartLicensingOn = errors.New("smart licensing is on")

// SetBrand applies a Service Select brand change under the rules of the
// product: converting a VCS to Expressway turns Smart Licensing on for good
// (option keys stop being used, a kept MS Interop key stays); going back to
// VCS is refused while Smart Licensing is on, which only a factory reset
// undoes. Setting the current brand changes nothing.
func SetBrand(root string, b Brand, c clock.Clock) error {
	if c == nil {
		c = clock.Real{}
	}
	if _, err := ParseBrand(string(b)); err != nil {
		return err
	}
	return UpdateSystemConfig(root, func(cfg *SystemConfig) error {
		switch {
		case cfg.Brand == b && (b == BrandVCS || cfg.SmartLicensingEnabled):
		case b == BrandVCS && cfg.SmartLicensingEnabled:
			return fmt.Errorf("%w and cannot be turned off, so Service Select cannot make this device a VCS; only a factory reset that does not keep brand and type (factory-reset without -v) does that", ErrSmartLicensingOn)
		case b == BrandExpressway:
			cfg.Brand = b
			if !cfg.SmartLicensingEnabled {
				cfg.SmartLicensingEnabled = true
				cfg.SmartLicensingEnabledAt = c.Now().UTC()
			}
		default:
			cfg.Brand = b
		}
		return nil
	})
}

// SetType changes the device type (Expressway-C or Expressway-E); either
// brand may be either type.
func SetType(root string, t Type) error {
	if _, err := ParseType(string(t)); err != nil {
		return err
	}
	return UpdateSystemConfig(root, func(cfg *SystemConfig) error {
		cfg.Type = t
		return nil
	})
}
