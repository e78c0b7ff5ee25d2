// Package appconfig reads and validates appliance.toml, the build
// configuration of a vxway image: image size, build seed and timestamp,
// kernel, system defaults, default passwords and licensing trust.
//
// Parsing is strict: an unknown key is an error naming the key and its line,
// and Validate reports every problem of a file at once (errors.Join), so a
// user fixes a config in one pass.
package appconfig

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"vxway/platform/vendorkey"

	"github.com/BurntSushi/toml"

	"vxway/tomlline"
)

// Version is the config format version this package reads.
const Version = 1

// Defaults for keys left out of the file.
const (
	DefaultSizeMiB         = 256
	DefaultESPMiB          = 128
	DefaultPersistMiB      = 16
	DefaultSoftwareVersion = "X14.2.0-vxway"
	DefaultHostname        = "vxway"
	DefaultBrand           = "Expressway"
	DefaultType            = "Expressway-C"
	DefaultCmdline         = "console=ttyS0 quiet panic=10 no_timer_check 8250.nr_uarts=1 initcall_blacklist=svm_init,vmx_init,i8237A_init_ops,msr_init"
	DefaultSeed            = "vxway"
)

// Config is a parsed appliance.toml. Paths in it are absolute once Load
// returns (relative paths are taken from the config file's directory).
type Config struct {
	Version    int        `toml:"version"`
	Image      Image      `toml:"image"`
	Build      Build      `toml:"build"`
	Kernel     Kernel     `toml:"kernel"`
	System     System     `toml:"system"`
	Users      Users      `toml:"users"`
	Licensing  Licensing  `toml:"licensing"`
	OptionKeys OptionKeys `toml:"option_keys"`
	Upgrade    Upgrade    `toml:"upgrade"`

	// Path is the file the config was read from ("" when parsed from bytes).
	Path string `toml:"-"`
	// lines maps "section.key" to its line in the file, for error messages.
	lines map[string]int
}

// Image holds the disk geometry.
type Image struct {
	SizeMiB    int `toml:"size_mib"`
	ESPMiB     int `toml:"esp_mib"`
	PersistMiB int `toml:"persist_mib"`
}

// Build holds what makes a build reproducible.
type Build struct {
	// SourceDateEpoch is the timestamp of every file in the image (seconds
	// since 1970, UTC). The SOURCE_DATE_EPOCH environment variable overrides
	// it.
	SourceDateEpoch int64 `toml:"source_date_epoch"`
	// Seed derives the disk and partition GUIDs, filesystem UUIDs and
	// password salts.
	Seed string `toml:"seed"`
	// SoftwareVersion is the version string the device reports.
	SoftwareVersion string `toml:"software_version"`
	// Release marks a build meant for customers: it must trust the
	// vendor's option-key public key and no published demonstration key.
	Release bool `toml:"release"`
}

// Kernel selects the kernel and its command line.
type Kernel struct {
	// Path to a bzImage; empty means the pinned gokrazy kernel module.
	Path string `toml:"path"`
	// Cmdline is the kernel command line of the boot entry.
	Cmdline string `toml:"cmdline"`
}

// System holds device defaults written to image.json.
type System struct {
	Hostname string `toml:"hostname"`
	Brand    string `toml:"brand"`
	Type     string `toml:"type"`
}

// Users holds the default passwords; the image stores only their hashes.
type Users struct {
	RootPassword  string `toml:"root_password"`
	AdminPassword string `toml:"admin_password"`
}

// Licensing holds the Smart Licensing build facts.
type Licensing struct {
	DirectURL string `toml:"direct_url"`
	// TrustedCAFiles are PEM certificate files (.pem or .crt); see
	// TrustStoreName for their names in the image.
	TrustedCAFiles []string `toml:"trusted_ca_files"`
}

// TrustStoreName returns the name under which the trusted CA file p is
// installed in the image's trust store (/etc/vxway/trust), which holds
// .pem files: a .pem file keeps its base name, a .crt file (what ssm init
// writes) gets .pem instead. ok is false for any other name.
func TrustStoreName(p string) (name string, ok bool) {
	base := filepath.Base(p)
	switch {
	case strings.HasSuffix(base, ".pem") && len(base) > len(".pem"):
		return base, true
	case strings.HasSuffix(base, ".crt") && len(base) > len(".crt"):
		return strings.TrimSuffix(base, ".crt") + ".pem", true
	}
	return base, false
}

// OptionKeys names the vendor's option-key verification keys.
type OptionKeys struct {
	// PublicKeyFiles are PEM files of Ed25519 public keys ("PUBLIC KEY",
	// as `openssl pkey -pubout` writes them). None: the image accepts no
	// option key.
	PublicKeyFiles []string `toml:"public_key_files"`
}

// publishedKeys are option-key verification keys whose private halves are
// public (an early version of this repository shipped one for
// demonstrations); a release refuses them.
var publishedKeys = map[string]bool{
	"683c03e98a3c880f46a57bb8dc2f2ab0fbd2d321fe267d39dbfb736279525e42": true,
}

// OptionKeyPublicKeys reads the option-key verification keys of
// option_keys.public_key_files, in order.
func (c *Config) OptionKeyPublicKeys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, p := range c.OptionKeys.PublicKeyFiles {
		k, err := readEd25519PublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func readEd25519PublicKey(p string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%s not found (paths are relative to the config file)", p)
	}
	pub, err := vendorkey.ParsePublicPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (make one with openssl pkey -pubout or vxway option-key keygen)", p, err)
	}
	return pub, nil
}

// Load reads, defaults and validates the config file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", path, err)
	}
	c, err := Parse(b, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = abs
	return c, nil
}

// Parse decodes config bytes, fills defaults, resolves relative paths
// against dir and validates. Every problem found is returned joined.
func Parse(b []byte, dir string) (*Config, error) {
	c := &Config{}
	md, err := toml.Decode(string(b), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %s (fix the TOML syntax)", pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("decoding: %w", err)
	}
	c.lines = tomlline.Lines(string(b))
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("%sunknown key %q (see docs/image.md for the keys)", c.where(k.String()), k.String()))
	}
	c.setDefaults(md)
	c.resolve(dir)
	errs = append(errs, c.Validate()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// where is the "line N: " prefix of a key's messages ("" when the key is
// not in the file).
func (c *Config) where(key string) string {
	if n, ok := c.lines[key]; ok {
		return fmt.Sprintf("line %d: ", n)
	}
	return ""
}

func (c *Config) setDefaults(md toml.MetaData) {
	if c.Image.SizeMiB == 0 && !md.IsDefined("image", "size_mib") {
		c.Image.SizeMiB = DefaultSizeMiB
	}
	if c.Image.ESPMiB == 0 && !md.IsDefined("image", "esp_mib") {
		c.Image.ESPMiB = DefaultESPMiB
	}
	if c.Image.PersistMiB == 0 && !md.IsDefined("image", "persist_mib") {
		c.Image.PersistMiB = DefaultPersistMiB
	}
	if !md.IsDefined("build", "seed") {
		c.Build.Seed = DefaultSeed
	}
	if !md.IsDefined("build", "software_version") {
		c.Build.SoftwareVersion = DefaultSoftwareVersion
	}
	if !md.IsDefined("kernel", "cmdline") {
		c.Kernel.Cmdline = DefaultCmdline
	}
	if !md.IsDefined("system", "hostname") {
		c.System.Hostname = DefaultHostname
	}
	if !md.IsDefined("system", "brand") {
		c.System.Brand = DefaultBrand
	}
	if !md.IsDefined("system", "type") {
		c.System.Type = DefaultType
	}
	if !md.IsDefined("upgrade", "product") {
		c.Upgrade.Product = DefaultProduct
	}
}

func (c *Config) resolve(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.Kernel.Path = abs(c.Kernel.Path)
	for i, p := range c.Licensing.TrustedCAFiles {
		c.Licensing.TrustedCAFiles[i] = abs(p)
	}
	for i, p := range c.OptionKeys.PublicKeyFiles {
		c.OptionKeys.PublicKeyFiles[i] = abs(p)
	}
	c.resolveUpgrade(abs)
}

var (
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	seedRE     = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
)

// Brands and types the device knows (Service Select).
var (
	brands = []string{"Expressway", "VCS"}
	types  = []string{"Expressway-C", "Expressway-E"}
)

// Validate checks every value and returns one error per problem, each
// naming the key and its line. Files named by the config must exist.
func (c *Config) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", c.where(key), key, fmt.Sprintf(format, args...)))
	}
	if c.Version != Version {
		bad("version", "is %d, want %d (add `version = %d` at the top)", c.Version, Version, Version)
	}
	if c.Image.ESPMiB < 40 || c.Image.ESPMiB > 4096 {
		bad("image.esp_mib", "%d is out of range: FAT32 needs 40 to 4096 MiB", c.Image.ESPMiB)
	}
	if c.Image.PersistMiB < 4 || c.Image.PersistMiB > 4096 {
		bad("image.persist_mib", "%d is out of range: use 4 to 4096 MiB", c.Image.PersistMiB)
	}
	if min := c.Image.ESPMiB + c.Image.PersistMiB + 16 + 2; c.Image.SizeMiB < min || c.Image.SizeMiB > 1<<20 {
		bad("image.size_mib", "%d is out of range: at least %d MiB (ESP + persist + 16 MiB data + 2 MiB GPT), at most 1048576", c.Image.SizeMiB, min)
	}
	if c.Build.SourceDateEpoch < 0 || c.Build.SourceDateEpoch > 253402300799 {
		bad("build.source_date_epoch", "%d is not a time between 1970 and 9999 in seconds", c.Build.SourceDateEpoch)
	}
	if !seedRE.MatchString(c.Build.Seed) {
		bad("build.seed", "%q must be 1 to 64 printable ASCII characters without spaces", c.Build.Seed)
	}
	if c.Build.SoftwareVersion == "" || strings.ContainsAny(c.Build.SoftwareVersion, " \t\n\"") {
		bad("build.software_version", "%q must be a non-empty word", c.Build.SoftwareVersion)
	}
	if c.Kernel.Path != "" {
		if fi, err := os.Stat(c.Kernel.Path); err != nil {
			bad("kernel.path", "kernel %s not found (set a bzImage path, or leave path empty for the pinned gokrazy kernel)", c.Kernel.Path)
		} else if !fi.Mode().IsRegular() {
			bad("kernel.path", "%s is not a regular file", c.Kernel.Path)
		}
	}
	if !strings.Contains(" "+c.Kernel.Cmdline+" ", " console=ttyS0") {
		bad("kernel.cmdline", "%q must contain console=ttyS0 (the device console)", c.Kernel.Cmdline)
	}
	if strings.ContainsAny(c.Kernel.Cmdline, "\n\r") {
		bad("kernel.cmdline", "must be one line")
	}
	if !hostnameRE.MatchString(c.System.Hostname) {
		bad("system.hostname", "%q is not a hostname label (letters, digits, '-', at most 63)", c.System.Hostname)
	}
	if !oneOf(c.System.Brand, brands) {
		bad("system.brand", "%q is not one of %s", c.System.Brand, strings.Join(brands, ", "))
	}
	if !oneOf(c.System.Type, types) {
		bad("system.type", "%q is not one of %s", c.System.Type, strings.Join(types, ", "))
	}
	for _, u := range []struct{ key, pw string }{{"users.root_password", c.Users.RootPassword}, {"users.admin_password", c.Users.AdminPassword}} {
		switch {
		case u.pw == "":
			bad(u.key, "is missing: set the default password")
		case len(u.pw) > 128 || strings.ContainsAny(u.pw, "\x00\n\r"):
			bad(u.key, "must be one line of at most 128 bytes")
		}
	}
	if c.Licensing.DirectURL == "" {
		bad("licensing.direct_url", "is missing: set the HTTPS URL of the vendor licensing service")
	} else if u, err := url.Parse(c.Licensing.DirectURL); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("licensing.direct_url", "%q is not an https:// URL with a host", c.Licensing.DirectURL)
	}
	seen := map[string]bool{}
	for _, p := range c.Licensing.TrustedCAFiles {
		name, ok := TrustStoreName(p)
		if !ok {
			bad("licensing.trusted_ca_files", "%s: the file name must end in .pem or .crt (a PEM certificate file)", p)
		}
		if seen[name] {
			bad("licensing.trusted_ca_files", "%s: two files named %s in the trust store (give the files different base names)", p, name)
		}
		seen[name] = true
		if _, err := os.Stat(p); err != nil {
			bad("licensing.trusted_ca_files", "%s not found (paths are relative to the config file)", p)
		}
	}
	errs = append(errs, c.validateOptionKeys()...)
	errs = append(errs, c.validateUpgrade()...)
	return errs
}

func (c *Config) validateOptionKeys() []error {
	var errs []error
	const key = "option_keys.public_key_files"
	for _, p := range c.OptionKeys.PublicKeyFiles {
		pub, err := readEd25519PublicKey(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%s: %w", c.where(key), key, err))
			continue
		}
		if c.Build.Release && publishedKeys[hex.EncodeToString(pub)] {
			errs = append(errs, fmt.Errorf("%s%s: %s is a published demonstration key (its private half is public); a release (build.release = true) cannot trust it", c.where(key), key, p))
		}
	}
	if c.Build.Release && len(c.OptionKeys.PublicKeyFiles) == 0 {
		errs = append(errs, fmt.Errorf("%s%s: a release (build.release = true) must trust the vendor's option-key public key; name its PEM file here", c.where("build.release"), key))
	}
	return errs
}

// BuildTime is the build timestamp: SOURCE_DATE_EPOCH from env when set
// (pass os.Getenv), else build.source_date_epoch.
func (c *Config) BuildTime(envEpoch string) (time.Time, error) {
	if envEpoch == "" {
		return time.Unix(c.Build.SourceDateEpoch, 0).UTC(), nil
	}
	var n int64
	if _, err := fmt.Sscanf(envEpoch, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != envEpoch {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", envEpoch)
	}
	return time.Unix(n, 0).UTC(), nil
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
