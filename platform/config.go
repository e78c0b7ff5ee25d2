package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vxway/atomicfile"
)

// SystemConfigPath is the device configuration file, below the root.
const SystemConfigPath = "data/config/system.json"

// The FIPS 140 and dedicated management interface settings, below the root.
// The factory reset keeps or wipes them as items of their own.
const (
	FIPSConfigPath       = "data/config/fips.json"
	ManagementConfigPath = "data/config/management.json"
)

// Brand is the product line chosen in Service Select.
type Brand string

// The two brands.
const (
	BrandExpressway Brand = "Expressway"
	BrandVCS        Brand = "VCS"
)

// Type is the role of the box chosen in Service Select.
type Type string

// The two types.
const (
	TypeC Type = "Expressway-C"
	TypeE Type = "Expressway-E"
)

// The defaults a device gets when nothing else says otherwise, and after a
// factory reset that does not keep brand and type.
const (
	DefaultBrand    = BrandVCS
	DefaultType     = TypeC
	DefaultHostname = "vxway"
)

// ErrBadValue marks a configuration value outside its allowed set.
var ErrBadValue = errors.New("invalid value")

// ParseBrand reads a brand, ignoring case; "Cisco VCS" is accepted for VCS.
func ParseBrand(s string) (Brand, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "expressway":
		return BrandExpressway, nil
	case "vcs", "cisco vcs":
		return BrandVCS, nil
	}
	return "", fmt.Errorf("%w: brand %q; use Expressway or VCS", ErrBadValue, s)
}

// ParseType reads a type, ignoring case.
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "expressway-c":
		return TypeC, nil
	case "expressway-e":
		return TypeE, nil
	}
	return "", fmt.Errorf("%w: type %q; use Expressway-C or Expressway-E", ErrBadValue, s)
}

// SystemConfig is /data/config/system.json.
type SystemConfig struct {
	Hostname string `json:"hostname"`
	Domain   string `json:"domain,omitempty"`
	Brand    Brand  `json:"brand"`
	Type     Type   `json:"type"`
	// SmartLicensingEnabled is set when the device becomes an Expressway
	// and is never cleared except by a factory reset that drops brand and
	// type. The licensing agent reads it through SmartLicensingEnabled.
	SmartLicensingEnabled bool `json:"smart_licensing_enabled"`
	// SmartLicensingEnabledAt is when a VCS was converted to Expressway;
	// zero for a device that was an Expressway from the start.
	SmartLicensingEnabledAt time.Time `json:"smart_licensing_enabled_at,omitzero"`
	// SessionTimeout is how many minutes a web session may stay unused
	// before it ends; 0 means DefaultSessionTimeout.
	SessionTimeout int `json:"session_timeout_minutes,omitempty"`
}

// Web session idle timeout limits, in minutes.
const (
	DefaultSessionTimeout = 30
	MaxSessionTimeout     = 24 * 60
)

// IdleTimeout is how long a web session may stay unused.
func (c SystemConfig) IdleTimeout() time.Duration {
	if c.SessionTimeout <= 0 {
		return DefaultSessionTimeout * time.Minute
	}
	return time.Duration(c.SessionTimeout) * time.Minute
}

// ParseSessionTimeout reads a web session timeout in minutes, 1 to
// MaxSessionTimeout.
func ParseSessionTimeout(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxSessionTimeout {
		return 0, fmt.Errorf("%w: session timeout %q; give the minutes, 1 to %d (default %d)", ErrBadValue, s, MaxSessionTimeout, DefaultSessionTimeout)
	}
	return n, nil
}

// FQDN is the device's fully qualified name: the hostname, with the domain
// when one is set.
func (c SystemConfig) FQDN() string {
	if c.Domain == "" {
		return c.Hostname
	}
	return c.Hostname + "." + c.Domain
}

// LoadSystemConfig reads the device configuration. When the file does not
// exist yet (first boot, after a factory reset) it returns the defaults of
// the image (image.json hostname, brand and type), else the built-in ones;
// an Expressway starts with Smart Licensing on, as it has no other mode.
func LoadSystemConfig(root string) (SystemConfig, error) {
	p := filepath.Join(root, SystemConfigPath)
	var c SystemConfig
	found, err := atomicfile.ReadJSON(p, &c)
	if err != nil {
		return SystemConfig{}, err
	}
	if !found {
		return defaultSystemConfig(root)
	}
	if err := c.validate(); err != nil {
		return SystemConfig{}, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

func defaultSystemConfig(root string) (SystemConfig, error) {
	c := SystemConfig{Hostname: DefaultHostname, Brand: DefaultBrand, Type: DefaultType}
	info, err := LoadImageInfo(root)
	switch {
	case errors.Is(err, ErrNoImageInfo):
	case err != nil:
		return SystemConfig{}, err
	default:
		if info.Hostname != "" {
			c.Hostname = info.Hostname
		}
		if info.Brand != "" {
			c.Brand, _ = ParseBrand(info.Brand) // checked by LoadImageInfo
		}
		if info.Type != "" {
			c.Type, _ = ParseType(info.Type)
		}
	}
	c.SmartLicensingEnabled = c.Brand == BrandExpressway
	return c, nil
}

func (c SystemConfig) validate() error {
	var problems []error
	if _, err := ParseBrand(string(c.Brand)); err != nil {
		problems = append(problems, err)
	}
	if _, err := ParseType(string(c.Type)); err != nil {
		problems = append(problems, err)
	}
	if c.SessionTimeout < 0 || c.SessionTimeout > MaxSessionTimeout {
		problems = append(problems, fmt.Errorf("%w: session_timeout_minutes %d is not from 1 to %d", ErrBadValue, c.SessionTimeout, MaxSessionTimeout))
	}
	if c.Brand == BrandExpressway && !c.SmartLicensingEnabled {
		problems = append(problems, fmt.Errorf("%w: an Expressway must have smart_licensing_enabled true", ErrBadValue))
	}
	if c.Hostname != "" {
		if err := ValidateHostname(c.Hostname); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// SaveSystemConfig validates c and writes it atomically.
func SaveSystemConfig(root string, c SystemConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding system configuration: %w", err)
	}
	return writeFile(filepath.Join(root, SystemConfigPath), append(b, '\n'), 0o644)
}

// UpdateSystemConfig changes the device configuration under a lock, so
// that two changes at once (a hostname and a brand, say) both land. When
// change returns an error nothing is written.
func UpdateSystemConfig(root string, change func(*SystemConfig) error) error {
	unlock, err := atomicfile.Lock(filepath.Join(root, SystemConfigPath))
	if err != nil {
		return err
	}
	defer unlock()
	c, err := LoadSystemConfig(root)
	if err != nil {
		return err
	}
	if err := change(&c); err != nil {
		return err
	}
	return SaveSystemConfig(root, c)
}

// SmartLicensingEnabled reports whether Smart Licensing is on: the device is
// an Expressway or was converted from VCS to Expressway.
func SmartLicensingEnabled(root string) (bool, error) {
	c, err := LoadSystemConfig(root)
	if err != nil {
		return false, err
	}
	return c.SmartLicensingEnabled, nil
}

// ResetServiceSelect puts brand and type back to the factory defaults (VCS,
// Expressway-C) with Smart Licensing off, keeping hostname and domain. The
// factory reset calls it when brand and type are not kept.
func ResetServiceSelect(root string) error {
	return UpdateSystemConfig(root, func(c *SystemConfig) error {
		c.Brand, c.Type, c.SmartLicensingEnabled, c.SmartLicensingEnabledAt = DefaultBrand, DefaultType, false, time.Time{}
		return nil
	})
}

// ValidateHostname checks a host name label: 1 to 63 letters, digits and
// hyphens, not starting or ending with a hyphen.
func ValidateHostname(h string) error {
	if len(h) == 0 || len(h) > 63 {
		return fmt.Errorf("%w: hostname %q must be 1 to 63 characters", ErrBadValue, h)
	}
	for i, r := range h {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
		if !ok || r == '-' && (i == 0 || i == len(h)-1) {
			return fmt.Errorf("%w: hostname %q: use letters, digits and inner hyphens only", ErrBadValue, h)
		}
	}
	return nil
}

// writeFile creates the parent directories and writes data atomically.
func writeFile(p string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	return atomicfile.WriteFile(p, data, perm)
}
