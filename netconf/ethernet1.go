package netconf

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"vxway/xapi"
)

// Ethernet 1 is the product's name for the first network interface:
// `xconfiguration Ethernet 1 IP V4 Address` and `SubnetMask` are
// today's `IP Address` and `PrefixLength`, seen as an address and a
// dotted mask (Ethernet 2, the second interface, belongs to package
// platform).

// ethernet1 answers xconfiguration Ethernet 1 IP V4 [Address: a.b.c.d]
// [SubnetMask: m.m.m.m].
func (h *handlers) ethernet1(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(rel) != 0 && !xapi.PathIs(rel, "IP") && !xapi.PathIs(rel, "IP", "V4") {
		return fmt.Errorf("%w: xconfiguration Ethernet 1 %s; the settings are Ethernet 1 IP V4 Address and SubnetMask", ErrBadRequest, strings.Join(rel, " "))
	}
	c, err := h.load()
	if err != nil {
		return err
	}
	if len(req.Args) == 0 {
		mask := ""
		if c.PrefixLength != 0 {
			mask = net.IP(net.CIDRMask(c.PrefixLength, 32)).String()
		}
		out.Config("Ethernet 1 IP V4 Address", c.Address)
		out.Config("Ethernet 1 IP V4 SubnetMask", mask)
		return nil
	}
	if len(req.Args) > 1 || !xapi.PathIs(rel, "IP", "V4") {
		return fmt.Errorf("%w: set one of xconfiguration Ethernet 1 IP V4 Address: or SubnetMask: at a time", ErrBadRequest)
	}
	a := req.Args[0]
	v := strings.TrimSpace(a.Value)
	switch {
	case strings.EqualFold(a.Name, "Address"):
		if strings.Contains(v, "/") {
			return fmt.Errorf("%w: Ethernet 1 IP V4 Address %q; give the address alone and its mask with SubnetMask", ErrBadRequest, v)
		}
		err = SetIP(&c, "Address", v)
	case strings.EqualFold(a.Name, "SubnetMask"):
		bits, ok := maskBits(v)
		if !ok {
			return fmt.Errorf("%w: subnet mask %q; give a mask such as 255.255.255.0", ErrBadRequest, v)
		}
		err = SetIP(&c, "PrefixLength", strconv.Itoa(bits))
	default:
		return fmt.Errorf("%w: Ethernet 1 IP V4 %s; the settings are Address and SubnetMask", ErrBadRequest, a.Name)
	}
	if err != nil {
		return err
	}
	return h.save(ctx, c, out)
}

// maskBits is the prefix length of a dotted IPv4 mask with contiguous
// ones.
func maskBits(s string) (int, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	ones, bits := net.IPMask(b[:]).Size()
	return ones, bits == 32
}
