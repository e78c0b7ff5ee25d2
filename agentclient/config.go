package agentclient

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// Mode is the transport the agent reaches the manager with.
type Mode string

// The transports (docs/licensing.md#transport).
const (
	// Direct talks to the vendor service at the image's Direct URL.
	Direct Mode = "Direct"
	// OnPrem talks to an on-prem manager at a configured /SmartTransport URL.
	OnPrem Mode = "OnPrem"
	// Proxy talks to the vendor service through an HTTP proxy (CONNECT).
	Proxy Mode = "Proxy"
)

// Config is what the administrator sets: the transport and the privacy
// flag. It lives in /data/licensing/config.json.
type Config struct {
	Mode          Mode   `json:"mode"`
	URL           string `json:"url,omitempty"`
	ProxyAddress  string `json:"proxy_address,omitempty"`
	ProxyPort     int    `json:"proxy_port,omitempty"`
	ProxyUsername string `json:"proxy_username,omitempty"`
	ProxyPassword string `json:"proxy_password,omitempty"`
	HideHostname  bool   `json:"hide_hostname"`
}

// DefaultConfig is the configuration of a fresh device: Direct, sharing
// hostname and IP.
func DefaultConfig() Config { return Config{Mode: Direct} }

// Redacted returns c with the proxy password replaced by "***" when set,
// the form shown to users.
func (c Config) Redacted() Config {
	if c.ProxyPassword != "" {
		c.ProxyPassword = "***"
	}
	return c
}

// cloud reports whether mode reaches the vendor service (Direct or
// through a proxy) rather than an on-prem manager.
func (m Mode) cloud() bool { return m != OnPrem }

// The configuration leaves, as the xAPI names them.
const (
	LeafMode          = "Mode"
	LeafURL           = "URL"
	LeafProxyAddress  = "ProxyAddress"
	LeafProxyPort     = "ProxyPort"
	LeafProxyUsername = "ProxyUsername"
	LeafProxyPassword = "ProxyPassword"
	LeafHideHostname  = "HideHostname"
)

// Limits on configured values.
const (
	maxURLLen     = 2048
	maxHostLen    = 253
	maxCredential = 128
)

// ParseMode maps what a user types (any case; "On-Prem" too) to a Mode.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "direct":
		return Direct, nil
	case "onprem", "on-prem":
		return OnPrem, nil
	case "proxy":
		return Proxy, nil
	}
	return "", fmt.Errorf("%w: transport mode %q is unknown; use Direct, OnPrem or Proxy", ErrInvalidConfig, s)
}

// ValidateOnPremURL checks an On-Prem Smart Transport URL: https, a host
// (FQDN or IP, optional port), the path /SmartTransport and nothing else.
func ValidateOnPremURL(s string) error {
	if len(s) > maxURLLen {
		return fmt.Errorf("%w: URL is %d characters, at most %d are allowed", ErrInvalidConfig, len(s), maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return fmt.Errorf("%w: URL %q does not parse; write it as https://manager.example.com/SmartTransport", ErrInvalidConfig, s)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%w: URL %q must start with https:// (only HTTPS reaches the manager)", ErrInvalidConfig, s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%w: URL %q must hold only scheme, host and /SmartTransport (no user, query or fragment)", ErrInvalidConfig, s)
	}
	if err := validateHost(u.Hostname(), true); err != nil {
		return fmt.Errorf("%w: URL %q: %v", ErrInvalidConfig, s, err)
	}
	if p := u.Port(); p != "" {
		if _, err := parsePort(p); err != nil {
			return fmt.Errorf("%w: URL %q: %v", ErrInvalidConfig, s, err)
		}
	}
	if u.Path != "/SmartTransport" {
		return fmt.Errorf("%w: URL %q must end in /SmartTransport, e.g. https://manager.example.com/SmartTransport", ErrInvalidConfig, s)
	}
	return nil
}

// validateHost accepts an IPv4 address or a fully qualified domain name
// (labels of letters, digits and hyphens); allowIPv6 also accepts IPv6.
func validateHost(h string, allowIPv6 bool) error {
	if h == "" {
		return errors.New("the host is empty")
	}
	if ip := net.ParseIP(h); ip != nil {
		if ip.To4() == nil && !allowIPv6 {
			return fmt.Errorf("%q is an IPv6 address; give an IPv4 address or an FQDN", h)
		}
		return nil
	}
	if len(h) > maxHostLen {
		return fmt.Errorf("host name is %d characters, at most %d are allowed", len(h), maxHostLen)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("%q is not a valid host name; give an IPv4 address or an FQDN", h)
		}
		for _, r := range label {
			if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-')) {
				return fmt.Errorf("%q is not a valid host name (character %q); give an IPv4 address or an FQDN", h, r)
			}
		}
	}
	return nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}

func validateCredential(what, s string) error {
	if len(s) > maxCredential {
		return fmt.Errorf("%w: proxy %s is %d characters, at most %d are allowed", ErrInvalidConfig, what, len(s), maxCredential)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r > unicode.MaxASCII {
			return fmt.Errorf("%w: proxy %s holds a character that is not printable ASCII", ErrInvalidConfig, what)
		}
	}
	if what == "username" && strings.Contains(s, ":") {
		return fmt.Errorf("%w: proxy username must not contain ':' (Basic authentication separates user and password with it)", ErrInvalidConfig)
	}
	return nil
}

// parseOnOff maps On/Off (any case; Yes/No, true/false too) to a bool.
func parseOnOff(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "yes", "true":
		return true, nil
	case "off", "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q is not On or Off", ErrInvalidConfig, s)
}

// Apply returns c with leaf set to value, or an error saying what is wrong
// (c itself is never changed). registered tells whether the device is
// registered: switching between the vendor service (Direct, Proxy) and an
// on-prem manager, or changing the On-Prem URL, is then refused.
func (c Config) Apply(leaf, value string, registered bool) (Config, error) {
	n := c
	switch strings.ToLower(leaf) {
	case "mode":
		m, err := ParseMode(value)
		if err != nil {
			return c, err
		}
		n.Mode = m
		if registered && m.cloud() != c.Mode.cloud() {
			return c, fmt.Errorf("%w: switching the transport from %s to %s needs the device deregistered first: xcommand License Smart Deregister", ErrRegistered, c.Mode, m)
		}
	case "url":
		v := strings.TrimSpace(value)
		if v != "" {
			if err := ValidateOnPremURL(v); err != nil {
				return c, err
			}
		}
		if registered && c.Mode == OnPrem && v != c.URL {
			return c, fmt.Errorf("%w: changing the On-Prem URL needs the device deregistered first: xcommand License Smart Deregister", ErrRegistered)
		}
		n.URL = v
	case "proxyaddress", "address":
		v := strings.TrimSpace(value)
		if v != "" {
			if err := validateHost(v, false); err != nil {
				return c, fmt.Errorf("%w: proxy address: %v", ErrInvalidConfig, err)
			}
		}
		n.ProxyAddress = v
	case "proxyport", "port":
		if strings.TrimSpace(value) == "" {
			n.ProxyPort = 0
			break
		}
		p, err := parsePort(value)
		if err != nil {
			return c, fmt.Errorf("%w: proxy %v", ErrInvalidConfig, err)
		}
		n.ProxyPort = p
	case "proxyusername", "username":
		if err := validateCredential("username", value); err != nil {
			return c, err
		}
		n.ProxyUsername = value
	case "proxypassword", "password":
		if err := validateCredential("password", value); err != nil {
			return c, err
		}
		n.ProxyPassword = value
	case "hidehostname":
		b, err := parseOnOff(value)
		if err != nil {
			return c, err
		}
		n.HideHostname = b
	default:
		return c, fmt.Errorf("%w: unknown setting %q; settings are Mode, URL, ProxyAddress, ProxyPort, ProxyUsername, ProxyPassword, HideHostname", ErrInvalidConfig, leaf)
	}
	return n, nil
}

// Validate checks a whole configuration (one loaded from disk), returning
// every problem.
func (c Config) Validate() error {
	var problems []error
	if _, err := ParseMode(string(c.Mode)); err != nil {
		problems = append(problems, err)
	}
	if c.URL != "" {
		if err := ValidateOnPremURL(c.URL); err != nil {
			problems = append(problems, err)
		}
	}
	if c.ProxyAddress != "" {
		if err := validateHost(c.ProxyAddress, false); err != nil {
			problems = append(problems, fmt.Errorf("%w: proxy address: %v", ErrInvalidConfig, err))
		}
	}
	if c.ProxyPort < 0 || c.ProxyPort > 65535 {
		problems = append(problems, fmt.Errorf("%w: proxy port %d is not from 1 to 65535", ErrInvalidConfig, c.ProxyPort))
	}
	if err := validateCredential("username", c.ProxyUsername); err != nil {
		problems = append(problems, err)
	}
	if err := validateCredential("password", c.ProxyPassword); err != nil {
		problems = append(problems, err)
	}
	return errors.Join(problems...)
}
