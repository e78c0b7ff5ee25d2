package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"vxway/atomicfile"
	"vxway/xapi"
)

// The dedicated management interface: SSH and HTTPS answer on the second
// network interface only, with the address configured here; licensing
// and every other connection keep using eth0 (the default route). The
// setting is ManagementConfigPath (kept by the factory reset's -m) and
// takes effect at the next boot.

// ManagementInterface is the interface that can be dedicated to
// management.
const ManagementInterface = "eth1"

// ManagementConfig is ManagementConfigPath.
type ManagementConfig struct {
	// Interface is ManagementInterface, or empty: no dedicated interface.
	Interface string `json:"interface,omitempty"`
	// Address is the interface's IPv4 address with its prefix length.
	Address string `json:"address,omitempty"`
}

// Prefix is the parsed address.
func (c ManagementConfig) Prefix() (netip.Prefix, error) {
	p, err := netip.ParsePrefix(c.Address)
	if err != nil || !p.Addr().Is4() || p.Bits() < 1 || p.Bits() > 30 || p.Addr().IsLoopback() || p.Addr().IsMulticast() || p.Addr().IsUnspecified() {
		return netip.Prefix{}, fmt.Errorf("%w: management address %q; give an IPv4 address with its prefix length, such as 10.0.3.15/24", ErrBadValue, c.Address)
	}
	return p, nil
}

// Validate checks the setting: a dedicated interface needs its address.
func (c ManagementConfig) Validate() error {
	if c.Address != "" {
		if _, err := c.Prefix(); err != nil {
			return err
		}
	}
	switch c.Interface {
	case "":
	case ManagementInterface:
		if c.Address == "" {
			return fmt.Errorf("%w: the management interface %s has no address; set it first: xconfiguration Interfaces Management Address: 10.0.3.15/24", ErrBadValue, c.Interface)
		}
	default:
		return fmt.Errorf("%w: management interface %q; use %s or Off", ErrBadValue, c.Interface, ManagementInterface)
	}
	return nil
}

// LoadManagementConfig reads the management interface setting; without
// the file there is no dedicated interface.
func LoadManagementConfig(root string) (ManagementConfig, error) {
	p := filepath.Join(root, ManagementConfigPath)
	var c ManagementConfig
	if _, err := atomicfile.ReadJSONStrict(p, &c); err != nil {
		return ManagementConfig{}, err
	}
	if err := c.Validate(); err != nil {
		return ManagementConfig{}, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// SaveManagementConfig validates c and writes it atomically.
func SaveManagementConfig(root string, c ManagementConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the management interface setting: %w", err)
	}
	return writeFile(filepath.Join(root, ManagementConfigPath), append(b, '\n'), 0o644)
}

// management answers xconfiguration Interfaces Management [Interface:
// eth1|Off] [Address: a.b.c.d/n].
func (h *handlers) management(_ context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	c, err := LoadManagementConfig(h.root)
	if err != nil {
		return err
	}
	show := func() {
		iface := c.Interface
		if iface == "" {
			iface = "Off"
		}
		out.Config("Interfaces Management Interface", iface)
		out.Config("Interfaces Management Address", c.Address)
	}
	if len(req.Args) == 0 {
		show()
		return nil
	}
	leaf, value := req.Args[0].Name, strings.TrimSpace(req.Args[0].Value)
	switch {
	case len(rel) == 0 && strings.EqualFold(leaf, "Interface"):
		switch strings.ToLower(value) {
		case ManagementInterface:
			c.Interface = ManagementInterface
		case "off", "none":
			c.Interface = ""
		default:
			return fmt.Errorf("%w: management interface %q; use %s or Off", ErrBadValue, value, ManagementInterface)
		}
	case len(rel) == 0 && strings.EqualFold(leaf, "Address"):
		if value == "" && c.Interface != "" {
			return fmt.Errorf("%w: the management interface is %s; set Interface: Off before removing its address", ErrBadValue, c.Interface)
		}
		c.Address = value
		if value != "" {
			p, err := c.Prefix()
			if err != nil {
				return err
			}
			c.Address = p.String()
		}
	default:
		return fmt.Errorf("%w: Interfaces Management %s; the settings are Interface and Address", ErrBadRequest, leaf)
	}
	if err := SaveManagementConfig(h.root, c); err != nil {
		return err
	}
	show()
	out.Result("Interfaces Management", "takes effect after a restart")
	return nil
}
