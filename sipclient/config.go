package sipclient

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"vxway/atomicfile"
)

// ConfigPath is where the SIP settings live, relative to the device root.
const ConfigPath = "data/config/sip.json"

// DefaultRoomPattern is the User-Agent pattern (a Go regular expression,
// matched without regard to case) that makes a registration a room
// system; every other registration is a desktop one.
const DefaultRoomPattern = `room|telepresence|codec|board|\bsx[0-9]+|\bmx[0-9]+`

// DefaultRealm is the digest realm while no SIP domain is set.
const DefaultRealm = "vxway"

// Config is the persisted SIP configuration.
type Config struct {
	// Domain is the SIP domain served (xconfiguration SIP Domain 1
	// Name); empty accepts registrations for any domain.
	Domain string `json:"domain,omitempty"`
	// AuthenticationOff turns digest authentication of REGISTER off
	// (xconfiguration SIP Registration Authentication: Off).
	AuthenticationOff bool `json:"authentication_off,omitempty"`
	// RoomPattern overrides DefaultRoomPattern when set.
	RoomPattern string `json:"room_pattern,omitempty"`
	// Neighbor is the neighbour zone's address, host or host:port
	// (xconfiguration Zones Neighbor 1 Address).
	Neighbor string `json:"neighbor,omitempty"`
	// Advertise is the address SIP clients reach this device at, host or
	// host:port, when it is behind a NAT or port forward (xconfiguration
	// SIP Advertise Address): the proxy puts it in Record-Route and Via
	// so that in-dialog requests and responses come back through the
	// forward. Without a port the listening ports are advertised.
	// Empty: the hypervisor's hint (vxway run --sip-port), else the
	// listening address.
	Advertise string `json:"advertise,omitempty"`
	// AdvertiseTLSPort is the port clients reach TLS 5061 at
	// (xconfiguration SIP Advertise TLSPort); 0 means Advertise's port
	// plus one, or 5061's own port when Advertise has none.
	AdvertiseTLSPort int `json:"advertise_tls_port,omitempty"`
}

// ErrInvalid marks a setting that breaks a rule.
var ErrInvalid = errors.New("invalid SIP setting")

// Realm is the digest realm: the domain, or DefaultRealm without one.
func (c Config) Realm() string {
	if c.Domain != "" {
		return c.Domain
	}
	return DefaultRealm
}

// Room returns the compiled room pattern.
func (c Config) Room() (*regexp.Regexp, error) {
	p := c.RoomPattern
	if p == "" {
		p = DefaultRoomPattern
	}
	re, err := regexp.Compile("(?i)" + p)
	if err != nil {
		return nil, fmt.Errorf("%w: room User-Agent pattern %q: %v", ErrInvalid, p, err)
	}
	return re, nil
}

// NeighborAddr is the neighbour's host:port (port 5060 when none is
// given), or "" when no neighbour is set.
func (c Config) NeighborAddr() string {
	if c.Neighbor == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(c.Neighbor); err == nil {
		return c.Neighbor
	}
	return net.JoinHostPort(c.Neighbor, "5060")
}

// Validate reports every rule the configuration breaks.
func (c Config) Validate() error {
	var errs []error
	if c.Domain != "" && !validDomain(c.Domain) {
		errs = append(errs, fmt.Errorf("%w: domain %q is not a DNS name (letters, digits, hyphens and dots, at most 253 characters)", ErrInvalid, c.Domain))
	}
	if len(c.RoomPattern) > 512 {
		errs = append(errs, fmt.Errorf("%w: the room User-Agent pattern is longer than 512 characters", ErrInvalid))
	} else if _, err := c.Room(); err != nil {
		errs = append(errs, err)
	}
	if c.Neighbor != "" {
		if err := validAddress(c.Neighbor); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Advertise != "" {
		if _, err := ParseAdvertise(c.Advertise); err != nil {
			errs = append(errs, err)
		}
	}
	if c.AdvertiseTLSPort < 0 || c.AdvertiseTLSPort > 65535 {
		errs = append(errs, fmt.Errorf("%w: advertised TLS port %d is not from 1 to 65535 (0: the advertised port plus one)", ErrInvalid, c.AdvertiseTLSPort))
	}
	return errors.Join(errs...)
}

// AdvertiseOEMKey is the SMBIOS OEM string (type 11) by which the
// hypervisor tells the device the address its SIP service is reached at
// from outside: vxway run --sip-port P gives "vxway.sip.advertise=
// 127.0.0.1:P", and init passes it to sipserver --advertise.
const AdvertiseOEMKey = "vxway.sip.advertise"

// Advertised is a parsed advertised address: Port 0 means the
// listening port.
type Advertised struct {
	Host string
	Port int
}

// ParseAdvertise reads an advertised address, an IP address or DNS name
// with an optional port.
func ParseAdvertise(a string) (Advertised, error) {
	host, port := a, ""
	if h, p, err := net.SplitHostPort(a); err == nil {
		host, port = h, p
	}
	var adv Advertised
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return adv, fmt.Errorf("%w: advertised address %q: port %q is not from 1 to 65535", ErrInvalid, a, port)
		}
		adv.Port = n
	}
	if net.ParseIP(host) == nil && !validDomain(host) {
		return adv, fmt.Errorf("%w: advertised address %q is not an IP address or DNS name (optionally with :port)", ErrInvalid, a)
	}
	adv.Host = host
	return adv, nil
}

func validDomain(d string) bool {
	if len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validAddress checks a neighbour address: an IPv4 address or DNS name,
// with an optional port.
func validAddress(a string) error {
	host, port := a, ""
	if h, p, err := net.SplitHostPort(a); err == nil {
		host, port = h, p
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: neighbour address %q: port %q is not from 1 to 65535", ErrInvalid, a, port)
		}
	}
	if net.ParseIP(host) == nil && !validDomain(host) {
		return fmt.Errorf("%w: neighbour address %q is not an IP address or DNS name (optionally with :port)", ErrInvalid, a)
	}
	return nil
}

// LoadConfig reads the configuration under root; a missing file gives
// the defaults.
func LoadConfig(root string) (Config, error) {
	var c Config
	if _, err := atomicfile.ReadJSON(filepath.Join(root, ConfigPath), &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("reading %s: %w", ConfigPath, err)
	}
	return c, nil
}

// SaveConfig validates c and writes it atomically.
func SaveConfig(root string, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return atomicfile.WriteJSON(filepath.Join(root, ConfigPath), c, 0o644)
}

// UpdateConfig loads the configuration, applies f and saves the result;
// when f fails or the result breaks a rule nothing is written.
func UpdateConfig(root string, f func(*Config) error) (Config, error) {
	c, err := LoadConfig(root)
	if err != nil {
		return c, err
	}
	if err := f(&c); err != nil {
		return c, err
	}
	return c, SaveConfig(root, c)
}
