// Package netsettings owns the device's network settings file,
// /data/config/network.json: its format, the rules a setting must follow,
// and its load and save. The network service (netconf) applies it;
// provisioning and the factory reset name it through this package, so none
// of them links the network daemon.
package netsettings

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"vxway/atomicfile"
)

// ConfigPath is where the network configuration lives, relative to the
// device root.
const ConfigPath = "data/config/network.json"

// Limits of the configuration, as on the product: up to five DNS servers
// and five NTP servers.
const (
	MaxDNSServers = 5
	MaxNTPServers = 5
)

// Config is the persisted network configuration of eth0.
//
// Address, PrefixLength and Gateway are kept while DHCP is on, so that
// switching DHCP off uses them; they are applied only when DHCP is off.
// DNSServers and NTPServers are numbered slots (`DNS Server 1..5`): an
// empty string is an empty slot. No DNS server with DHCP on means "the
// servers the DHCP server gives".
type Config struct {
	DHCP         bool     `json:"dhcp"`
	Address      string   `json:"address,omitempty"`
	PrefixLength int      `json:"prefix_length,omitempty"`
	Gateway      string   `json:"gateway,omitempty"`
	DNSServers   []string `json:"dns_servers"`
	SearchDomain string   `json:"search_domain,omitempty"`
	NTPServers   []string `json:"ntp_servers"`
}

// Default is the configuration of a device that has none: DHCP for
// everything.
func Default() Config {
	return Config{DHCP: true, DNSServers: []string{}, NTPServers: []string{}}
}

// ErrInvalid marks a configuration that breaks a rule; the wrapped errors
// say which field and why.
var ErrInvalid = errors.New("invalid network configuration")

// Validate reports every problem of c at once, each naming its field, or
// nil when c can be applied.
func (c Config) Validate() error {
	var errs []error
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
	}
	if c.Address != "" || !c.DHCP {
		add("address", CheckAddress(c.Address))
	}
	if c.PrefixLength != 0 || !c.DHCP {
		add("prefix_length", CheckPrefixLength(c.PrefixLength))
	}
	if c.Gateway != "" {
		add("gateway", CheckGateway(c.Gateway, c.Address, c.PrefixLength))
	}
	if len(c.DNSServers) > MaxDNSServers {
		errs = append(errs, fmt.Errorf("dns_servers: %d servers given, at most %d are allowed", len(c.DNSServers), MaxDNSServers))
	}
	seen := map[string]bool{}
	for i, s := range c.DNSServers {
		if s == "" {
			continue
		}
		add(fmt.Sprintf("dns_servers[%d]", i+1), CheckNameServer(s))
		if seen[s] {
			errs = append(errs, fmt.Errorf("dns_servers[%d]: %s is listed twice", i+1, s))
		}
		seen[s] = true
	}
	if c.SearchDomain != "" {
		add("search_domain", CheckDomain(c.SearchDomain))
	}
	if len(c.NTPServers) > MaxNTPServers {
		errs = append(errs, fmt.Errorf("ntp_servers: %d servers given, at most %d are allowed", len(c.NTPServers), MaxNTPServers))
	}
	for i, s := range c.NTPServers {
		if s == "" {
			continue
		}
		add(fmt.Sprintf("ntp_servers[%d]", i+1), CheckNTPServer(s))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
}

// Static reports the static address as a prefix and the gateway (zero when
// none); valid only for a validated config.
func (c Config) Static() (netip.Prefix, netip.Addr) {
	a, _ := netip.ParseAddr(c.Address)
	p := netip.PrefixFrom(a, c.PrefixLength)
	gw, _ := netip.ParseAddr(c.Gateway)
	return p, gw
}

// CheckAddress reports whether s is a usable static IPv4 host address.
func CheckAddress(s string) error {
	if s == "" {
		return errors.New("missing: a static configuration needs an IPv4 address such as 192.0.2.10")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address; write it as 192.0.2.10", s)
	}
	if !a.IsGlobalUnicast() && !a.IsPrivate() {
		return fmt.Errorf("%s cannot be a host address (loopback, multicast, link-local or unspecified)", s)
	}
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%s is the broadcast address", s)
	}
	return nil
}

// CheckPrefixLength reports whether n is a usable IPv4 prefix length.
func CheckPrefixLength(n int) error {
	if n < 1 || n > 32 {
		return fmt.Errorf("%d is not a prefix length; use 1 to 32 (24 for 255.255.255.0)", n)
	}
	return nil
}

// CheckGateway reports whether gw is a usable default gateway for the
// given address and prefix length (either may be unset, then only the form
// of gw is checked).
func CheckGateway(gw, address string, prefixLen int) error {
	g, err := netip.ParseAddr(gw)
	if err != nil || !g.Is4() {
		return fmt.Errorf("%q is not an IPv4 address; write it as 192.0.2.1", gw)
	}
	if g.IsUnspecified() || g.IsMulticast() || g.IsLoopback() {
		return fmt.Errorf("%s cannot be a gateway", gw)
	}
	a, err := netip.ParseAddr(address)
	if err != nil || !a.Is4() || prefixLen < 1 || prefixLen > 32 {
		return nil
	}
	if g == a {
		return fmt.Errorf("%s is the device's own address", gw)
	}
	p := netip.PrefixFrom(a, prefixLen).Masked()
	if !p.Contains(g) {
		return fmt.Errorf("%s is outside the device's subnet %s", gw, p)
	}
	return nil
}

// CheckNameServer reports whether s is a usable DNS server address (IPv4
// or IPv6 literal).
func CheckNameServer(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("%q is not an IP address; give the DNS server as an address such as 10.0.2.3", s)
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return fmt.Errorf("%s cannot be a DNS server", s)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%s: zoned addresses are not supported", s)
	}
	return nil
}

// CheckNTPServer reports whether s is a usable NTP server: an IP address
// or a host name.
func CheckNTPServer(s string) error {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.IsUnspecified() || a.IsMulticast() {
			return fmt.Errorf("%s cannot be an NTP server", s)
		}
		return nil
	}
	if err := CheckDomain(s); err != nil {
		return fmt.Errorf("%q is neither an IP address nor a host name: %w", s, err)
	}
	return nil
}

// CheckDomain reports whether s is a DNS name: dot-separated labels of
// letters, digits and hyphens, each 1 to 63 characters, not starting or
// ending with a hyphen, 253 characters at most.
func CheckDomain(s string) error {
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("name is %d characters long, at most 253 are allowed", len(name))
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("%q has an empty label (two dots in a row?)", s)
		}
		if len(label) > 63 {
			return fmt.Errorf("label %q is longer than 63 characters", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("label %q holds %q; use letters, digits and hyphens", label, r)
			}
		}
	}
	return nil
}

// ErrNotConfigured marks a device with no network.json: callers use
// Default.
var ErrNotConfigured = errors.New("no network configuration")

// Load reads the configuration under root. A missing file gives Default
// and ErrNotConfigured; a malformed or invalid one gives an error that says
// what is wrong.
func Load(root string) (Config, error) {
	p := filepath.Join(root, ConfigPath)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Default(), ErrNotConfigured
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading %s: %w", p, err)
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("reading %s: %w", p, err)
	}
	return c, nil
}

// Parse decodes and validates a network.json document; unknown fields are
// an error.
func Parse(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("decoding: %w", err)
	}
	if c.DNSServers == nil {
		c.DNSServers = []string{}
	}
	if c.NTPServers == nil {
		c.NTPServers = []string{}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Servers reports the non-empty slots of a server list.
func Servers(slots []string) []string {
	out := []string{}
	for _, s := range slots {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Marshal encodes c as network.json content.
func (c Config) Marshal() []byte {
	if c.DNSServers == nil {
		c.DNSServers = []string{}
	}
	if c.NTPServers == nil {
		c.NTPServers = []string{}
	}
	b, _ := json.MarshalIndent(c, "", "  ") // a struct of strings, ints and bools always encodes
	return append(b, '\n')
}

// Hash identifies c: the network service records the hash of what it
// applied, and a writer waits for its own.
func (c Config) Hash() string {
	sum := sha256.Sum256(c.Marshal())
	return hex.EncodeToString(sum[:8])
}

// Save validates c and writes it atomically under root.
func Save(root string, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	p := filepath.Join(root, ConfigPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	return atomicfile.WriteFile(p, c.Marshal(), 0o644)
}
