package appconfig

import (
	"crypto/ed25519"
	"fmt"
	"os"

	"vxway/bundle"
)

// DefaultProduct is the product name bundles and images carry when
// [upgrade] product is left out.
const DefaultProduct = "vxway"

// Upgrade holds the keys of the signed upgrade bundles.
type Upgrade struct {
	// Product names what a bundle is for; a device refuses a bundle of
	// another product.
	Product string `toml:"product"`
	// SigningKeyFile is the PEM Ed25519 private key ("PRIVATE KEY", from
	// vxway keygen) that signs the build's bundle. Empty: the build uses
	// (and on first use makes) a development key next to the image.
	SigningKeyFile string `toml:"signing_key_file"`
	// PublicKeyFiles are PEM Ed25519 public keys the image trusts for
	// upgrades. Empty: the public half of the signing key.
	PublicKeyFiles []string `toml:"public_key_files"`
	// TrustedCAFiles are PEM certificate files (.pem or .crt) of the CAs
	// the device trusts for HTTPS downloads of bundles (see
	// TrustStoreName for their names in the image). Empty: the device
	// downloads bundles over http:// only.
	TrustedCAFiles []string `toml:"trusted_ca_files"`
}

func (c *Config) resolveUpgrade(abs func(string) string) {
	c.Upgrade.SigningKeyFile = abs(c.Upgrade.SigningKeyFile)
	for i, p := range c.Upgrade.PublicKeyFiles {
		c.Upgrade.PublicKeyFiles[i] = abs(p)
	}
	for i, p := range c.Upgrade.TrustedCAFiles {
		c.Upgrade.TrustedCAFiles[i] = abs(p)
	}
}

func (c *Config) validateUpgrade() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", c.where(key), key, fmt.Sprintf(format, args...)))
	}
	if !seedRE.MatchString(c.Upgrade.Product) {
		bad("upgrade.product", "%q must be 1 to 64 printable ASCII characters without spaces", c.Upgrade.Product)
	}
	if p := c.Upgrade.SigningKeyFile; p != "" {
		if _, err := ReadSigningKey(p); err != nil {
			bad("upgrade.signing_key_file", "%v", err)
		}
	} else if c.Build.Release {
		bad("upgrade.signing_key_file", "a release (build.release = true) must sign its bundle with the release key; name its PEM file here (make one with vxway keygen)")
	}
	for _, p := range c.Upgrade.PublicKeyFiles {
		if _, err := readUpgradePublicKey(p); err != nil {
			bad("upgrade.public_key_files", "%v", err)
		}
	}
	seen := map[string]bool{}
	for _, p := range c.Upgrade.TrustedCAFiles {
		const key = "upgrade.trusted_ca_files"
		name, ok := TrustStoreName(p)
		if !ok {
			bad(key, "%s: the file name must end in .pem or .crt (a PEM certificate file)", p)
		}
		if seen[name] {
			bad(key, "%s: two files named %s in the trust store (give the files different base names)", p, name)
		}
		seen[name] = true
		if _, err := os.Stat(p); err != nil {
			bad(key, "%s not found (paths are relative to the config file)", p)
		}
	}
	return errs
}

// ReadSigningKey reads a bundle signing key file.
func ReadSigningKey(p string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%s not found (paths are relative to the config file; make a key pair with vxway keygen)", p)
	}
	k, err := bundle.ParsePrivatePEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (make a key pair with vxway keygen)", p, err)
	}
	return k, nil
}

func readUpgradePublicKey(p string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%s not found (paths are relative to the config file)", p)
	}
	k, err := bundle.ParsePublicPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (make a key pair with vxway keygen)", p, err)
	}
	return k, nil
}

// UpgradePublicKeys are the keys the image trusts for upgrade bundles:
// upgrade.public_key_files, or the signing key's public half when none is
// listed.
func (c *Config) UpgradePublicKeys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, p := range c.Upgrade.PublicKeyFiles {
		k, err := readUpgradePublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 && c.Upgrade.SigningKeyFile != "" {
		k, err := ReadSigningKey(c.Upgrade.SigningKeyFile)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k.Public().(ed25519.PublicKey))
	}
	return keys, nil
}
