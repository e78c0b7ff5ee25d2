package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"vxway/atomicfile"
)

// FIPS 140 mode. The setting is FIPSConfigPath (kept by the factory reset's
// -f, wiped without it); it takes effect at the next boot, when init runs
// the device's services with Go's FIPS 140-3 module enforced (FIPSEnv) and
// restricts its own SSH and HTTPS servers to approved algorithms, and
// records what it applied in FIPSStatusPath for xstatus SystemUnit.

// FIPSEnv is the environment entry that makes a Go program run with the
// Go Cryptographic Module in FIPS 140-3 mode (crypto/fips140.Enabled
// reports true; crypto/tls and the other packages keep to approved
// algorithms and run the module's self-tests).
const FIPSEnv = "GODEBUG=fips140=on"

// FIPSStatusPath is what the running boot applied, below the root (in
// RAM: a new boot writes it again).
const FIPSStatusPath = "run/vxway/fips140.json"

// FIPSConfig is FIPSConfigPath.
type FIPSConfig struct {
	// Mode is FIPS 140 mode as configured (On from the next boot).
	Mode    bool      `json:"mode"`
	Changed time.Time `json:"changed,omitzero"`
}

// ErrFIPSNotAllowed refuses FIPS 140 mode on a product instance without
// export-controlled functionality.
var ErrFIPSNotAllowed = errors.New("FIPS140-2 Cryptographic Mode is not available: export-controlled functionality is not allowed for this product instance (its registration token or reservation did not allow it); register with a token that allows export-controlled functionality first")

// LoadFIPSConfig reads the FIPS 140 setting; without the file the mode is
// off.
func LoadFIPSConfig(root string) (FIPSConfig, error) {
	var c FIPSConfig
	if _, err := atomicfile.ReadJSONStrict(filepath.Join(root, FIPSConfigPath), &c); err != nil {
		return FIPSConfig{}, err
	}
	return c, nil
}

// SaveFIPSConfig writes the FIPS 140 setting atomically.
func SaveFIPSConfig(root string, c FIPSConfig) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the FIPS 140 setting: %w", err)
	}
	return writeFile(filepath.Join(root, FIPSConfigPath), append(b, '\n'), 0o644)
}

// FIPSStatus is what init applied at boot.
type FIPSStatus struct {
	Mode bool `json:"mode"`
	// Services lists the programs started with FIPSEnv.
	Services []string `json:"services,omitempty"`
	// Restricted lists the servers inside init limited to approved
	// algorithms.
	Restricted []string `json:"restricted,omitempty"`
}

// SaveFIPSStatus records what the boot applied.
func SaveFIPSStatus(root string, s FIPSStatus) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the FIPS 140 status: %w", err)
	}
	return writeFile(filepath.Join(root, FIPSStatusPath), append(b, '\n'), 0o644)
}

// LoadFIPSStatus reads what the boot applied; ok is false when init wrote
// nothing (a host copy of a device, or an older init).
func LoadFIPSStatus(root string) (s FIPSStatus, ok bool, err error) {
	p := filepath.Join(root, FIPSStatusPath)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return FIPSStatus{}, false, nil
	}
	if err != nil {
		return FIPSStatus{}, false, fmt.Errorf("reading %s: %w", p, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return FIPSStatus{}, false, fmt.Errorf("parsing %s: %w", p, err)
	}
	return s, true, nil
}
