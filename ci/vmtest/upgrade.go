package vmtest

import (
	"os"
	"path/filepath"
	"testing"

	"vxway/appconfig"
	"vxway/image"
)

// WithVersion sets [build] software_version.
func WithVersion(v string) ImageOption {
	return func(c *appconfig.Config) { c.Build.SoftwareVersion = v }
}

// WithUpgradeCA adds a PEM CA certificate file to [upgrade]
// trusted_ca_files: the device trusts it for HTTPS bundle downloads.
func WithUpgradeCA(pemFile string) ImageOption {
	return func(c *appconfig.Config) {
		abs, err := filepath.Abs(pemFile)
		if err != nil {
			abs = pemFile
		}
		c.Upgrade.TrustedCAFiles = append(c.Upgrade.TrustedCAFiles, abs)
	}
}

// WithCmdline sets [kernel] cmdline; a command line that cannot start the
// system makes a version that never becomes ready.
func WithCmdline(cmdline string) ImageOption {
	return func(c *appconfig.Config) { c.Kernel.Cmdline = cmdline }
}

// BrokenCmdline is a kernel command line whose system never comes up: the
// kernel finds no init in the initramfs, has no root device and panics,
// rebooting after a second.
const BrokenCmdline = "console=ttyS0 quiet panic=1 no_timer_check rdinit=/vxway-no-such-init"

// Bundle returns the upgrade bundle built next to the image variant of
// opts (it builds the variant when needed).
func Bundle(t testing.TB, opts ...ImageOption) string {
	t.Helper()
	img := Image(t, opts...)
	_, cfg := variantConfig(t, opts)
	p := image.BundlePath(img, cfg.Build.SoftwareVersion)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the bundle of the image variant: %v", err)
	}
	return p
}

// devKey makes the development signing key of the variants in dir once.
func devKey(dir string) error {
	p := filepath.Join(dir, image.DevKeyName)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return image.MakeKeyPair(p)
}
