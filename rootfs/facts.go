package rootfs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"vxway/appconfig"
	"vxway/platform"
)

// Salt derives the sha512-crypt salt of user from the build seed: 16
// characters of the crypt alphabet, the same for the same seed.
func Salt(seed, user string) string {
	const alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte("vxway password salt\x00" + seed + "\x00" + user))
	b := make([]byte, 16)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(b)
}

// NewImageInfo makes the image.json contents of a config (the format is
// platform's, which the device reads).
func NewImageInfo(c *appconfig.Config, buildTime time.Time) (*platform.ImageInfo, error) {
	info := &platform.ImageInfo{
		SoftwareVersion: c.Build.SoftwareVersion,
		BuildTime:       buildTime.UTC().Truncate(time.Second),
		Hostname:        c.System.Hostname,
		Brand:           c.System.Brand,
		Type:            c.System.Type,
		Licensing:       platform.ImageLicensing{DirectURL: c.Licensing.DirectURL},
	}
	for _, u := range []struct {
		name, pw string
		hash     *string
	}{{platform.UserRoot, c.Users.RootPassword, &info.PasswordHashes.Root}, {platform.UserAdmin, c.Users.AdminPassword, &info.PasswordHashes.Admin}} {
		h, err := platform.HashPassword(u.pw, Salt(c.Build.Seed, u.name))
		if err != nil {
			return nil, fmt.Errorf("hashing the %s password: %w", u.name, err)
		}
		*u.hash = h
	}
	keys, err := c.OptionKeyPublicKeys()
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		info.OptionKeyPublicKeys = append(info.OptionKeyPublicKeys, hex.EncodeToString(k))
	}
	info.Product = c.Upgrade.Product
	upKeys, err := c.UpgradePublicKeys()
	if err != nil {
		return nil, err
	}
	for _, k := range upKeys {
		info.UpgradePublicKeys = append(info.UpgradePublicKeys, hex.EncodeToString(k))
	}
	return info, nil
}

// Facts returns the /etc/vxway entries: image.json, the trusted manager
// CA certificates and the CA certificates trusted for HTTPS downloads of
// upgrade bundles. A trust file that holds no PEM certificate is an error.
func Facts(c *appconfig.Config, buildTime time.Time) ([]Entry, error) {
	info, err := NewImageInfo(c, buildTime)
	if err != nil {
		return nil, err
	}
	js, err := info.Marshal()
	if err != nil {
		return nil, err
	}
	entries := []Entry{
		{Kind: File, Path: "/" + platform.ImageInfoPath, Mode: 0o644, Data: js},
		{Kind: Dir, Path: "/" + platform.TrustDir, Mode: 0o755},
	}
	var errs []error
	for _, store := range []struct {
		dir, what string
		files     []string
	}{
		{platform.TrustDir, "trusted CA", c.Licensing.TrustedCAFiles},
		{platform.UpgradeTrustDir, "upgrade download CA", c.Upgrade.TrustedCAFiles},
	} {
		if store.dir == platform.UpgradeTrustDir && len(store.files) > 0 {
			entries = append(entries, Entry{Kind: Dir, Path: "/" + store.dir, Mode: 0o755})
		}
		for _, p := range store.files {
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading %s: %w", store.what, err))
				continue
			}
			if err := checkCerts(b); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", store.what, p, err))
				continue
			}
			name, ok := appconfig.TrustStoreName(p)
			if !ok {
				errs = append(errs, fmt.Errorf("%s %s: the file name must end in .pem or .crt", store.what, p))
				continue
			}
			entries = append(entries, Entry{Kind: File, Path: "/" + store.dir + "/" + name, Mode: 0o644, Data: b})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return entries, nil
}

// checkCerts reports whether b holds at least one PEM certificate and
// nothing else.
func checkCerts(b []byte) error {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM %q block; only CERTIFICATE blocks belong in the trust store", blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("parsing certificate %d: %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("holds no PEM certificate")
	}
	return nil
}
