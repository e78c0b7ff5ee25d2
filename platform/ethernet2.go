package platform

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"vxway/xapi"
)

// Ethernet 2 is the product's name for the second network interface,
// eth1. Its address has one owner, the management interface setting
// (ManagementConfigPath): `xconfiguration Ethernet 2 IP V4 Address` and
// `SubnetMask` are the same setting as `Interfaces Management Address`,
// seen as an address and a dotted mask. Init brings eth1 up with it at
// boot whether or not SSH and HTTPS are dedicated to it, and the cluster
// link listens there.

// defaultEthernet2Bits is the prefix length of an address set before its
// mask.
const defaultEthernet2Bits = 24

// ethernet2 answers xconfiguration Ethernet 2 IP V4 [Address: a.b.c.d]
// [SubnetMask: m.m.m.m].
func (h *handlers) ethernet2(_ context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if !xapi.PathIs(rel, "2", "IP", "V4") && !xapi.PathIs(rel, "2", "IP") && !xapi.PathIs(rel, "2") && len(rel) != 0 {
		return fmt.Errorf("%w: xconfiguration Ethernet %s; the second interface is Ethernet 2 IP V4 Address and SubnetMask (the first is xconfiguration IP)", ErrBadRequest, strings.Join(rel, " "))
	}
	c, err := LoadManagementConfig(h.root)
	if err != nil {
		return err
	}
	show := func() {
		addr, mask := "", ""
		if p, err := c.Prefix(); err == nil {
			addr, mask = p.Addr().String(), bitsToMask(p.Bits())
		}
		out.Config("Ethernet 2 IP V4 Address", addr)
		out.Config("Ethernet 2 IP V4 SubnetMask", mask)
	}
	if len(req.Args) == 0 {
		show()
		return nil
	}
	if len(req.Args) > 1 || !xapi.PathIs(rel, "2", "IP", "V4") {
		return fmt.Errorf("%w: set one of xconfiguration Ethernet 2 IP V4 Address: or SubnetMask: at a time", ErrBadRequest)
	}
	leaf, value := req.Args[0].Name, strings.TrimSpace(req.Args[0].Value)
	bits := defaultEthernet2Bits
	var addr netip.Addr
	if p, err := c.Prefix(); err == nil {
		addr, bits = p.Addr(), p.Bits()
	}
	switch {
	case strings.EqualFold(leaf, "Address"):
		if value == "" {
			if c.Interface != "" {
				return fmt.Errorf("%w: the second interface is dedicated to management; set xconfiguration Interfaces Management Interface: Off before removing its address", ErrBadValue)
			}
			c.Address = ""
			break
		}
		a, err := netip.ParseAddr(value)
		if err != nil || !a.Is4() {
			return fmt.Errorf("%w: Ethernet 2 address %q; give an IPv4 address such as 10.0.4.1", ErrBadValue, value)
		}
		addr = a
		c.Address = netip.PrefixFrom(addr, bits).String()
	case strings.EqualFold(leaf, "SubnetMask"):
		n, ok := maskToBits(value)
		if !ok {
			return fmt.Errorf("%w: subnet mask %q; give a mask such as 255.255.255.0", ErrBadValue, value)
		}
		if !addr.IsValid() {
			return fmt.Errorf("%w: Ethernet 2 has no address; set xconfiguration Ethernet 2 IP V4 Address first", ErrBadValue)
		}
		c.Address = netip.PrefixFrom(addr, n).String()
	default:
		return fmt.Errorf("%w: Ethernet 2 IP V4 %s; the settings are Address and SubnetMask", ErrBadRequest, leaf)
	}
	if err := SaveManagementConfig(h.root, c); err != nil {
		return err
	}
	show()
	out.Result("Ethernet 2", "takes effect after a restart")
	return nil
}

// bitsToMask is a prefix length as a dotted mask.
func bitsToMask(bits int) string {
	m := uint32(0xffffffff) << (32 - bits)
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// maskToBits parses a dotted mask with contiguous ones, /1 to /30.
func maskToBits(s string) (int, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for m&0x80000000 != 0 {
		bits++
		m <<= 1
	}
	if m != 0 || bits < 1 || bits > 30 {
		return 0, false
	}
	return bits, true
}
