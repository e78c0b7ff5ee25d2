package netconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
	"vxway/netsettings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"vxway/clock"
)

// Interface is the device's network interface.
const Interface = "eth0"

// UpWait bounds how long Up waits for eth0 to get its address before it
// returns and leaves DHCP to continue in the background.
const UpWait = 3 * time.Second

// Up brings up lo and eth0 from root's network.json (DHCP when there is
// none), writes /etc/resolv.conf, and starts the network service that
// renews the DHCP lease and applies later changes of network.json (made by
// `xconfiguration IP|DNS|NTP`). The service runs until ctx ends, so ctx
// must live as long as the device runs. Up returns once eth0 has an address
// or after UpWait, whichever is first; only a failure to bring up lo or a
// missing eth0 is an error.
func Up(ctx context.Context, root string, log io.Writer) error {
	link := netlinkLink{}
	if err := link.SetUp("lo"); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	if err := waitLink(ctx, Interface, 2*time.Second); err != nil {
		return err
	}
	s := newService(root, Interface, log, link, dhcpClient{}, clock.Real{})
	s.notify = func(ctx context.Context) error { return NotifyAgent(ctx, root) }
	s.setClock = stepClock
	go s.run(ctx)
	t := time.NewTimer(UpWait)
	defer t.Stop()
	select {
	case <-s.ready:
	case <-t.C:
		s.logf("%s has no address yet; DHCP continues in the background", Interface)
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func waitLink(ctx context.Context, name string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		_, err := netlink.LinkByName(name)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("finding %s: %w (is the virtio-net device attached?)", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// netlinkLink is Link through the kernel's netlink interface.
type netlinkLink struct{}

func (netlinkLink) SetUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding %s: %w", name, err)
	}
	return netlink.LinkSetUp(l)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (netlinkLink) SetAddress(name string, p netip.Prefix) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding %s: %w", name, err)
	}
	want := &netlink.Addr{IPNet: ipNet(p)}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == want.IPNet.String() {
			continue
		}
		if err := netlink.AddrDel(l, &a); err != nil {
			return fmt.Errorf("removing %s from %s: %w", a.IPNet, name, err)
		}
	}
	if err := netlink.AddrReplace(l, want); err != nil {
		return fmt.Errorf("adding %s to %s: %w", p, name, err)
	}
	return nil
}

func (netlinkLink) ClearAddresses(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding %s: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		if err := netlink.AddrDel(l, &a); err != nil {
			return fmt.Errorf("removing %s from %s: %w", a.IPNet, name, err)
		}
	}
	return nil
}

func (netlinkLink) SetDefaultRoute(name string, gw netip.Addr) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding %s: %w", name, err)
	}
	routes, err := netlink.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing routes of %s: %w", name, err)
	}
	for _, r := range routes {
		isDefault := r.Dst == nil || r.Dst.String() == "0.0.0.0/0"
		if !isDefault || (gw.IsValid() && r.Gw.Equal(gw.AsSlice())) {
			continue
		}
		if err := netlink.RouteDel(&r); err != nil {
			return fmt.Errorf("removing the default route via %s: %w", r.Gw, err)
		}
	}
	if !gw.IsValid() {
		return nil
	}
	r := &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		Gw:        gw.AsSlice(),
	}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("adding the default route via %s: %w", gw, err)
	}
	return nil
}

// dhcpClient is DHCPClient with a raw-socket DHCPv4 client, which works
// before the interface has any address.
type dhcpClient struct{}

func (dhcpClient) Lease(ctx context.Context, ifname string) (Lease, time.Duration, error) {
	c, err := nclient4.New(ifname, nclient4.WithTimeout(time.Second), nclient4.WithRetry(6))
	if err != nil {
		return Lease{}, 0, fmt.Errorf("opening a DHCP client on %s: %w", ifname, err)
	}
	defer c.Close()
	l, err := c.Request(ctx, dhcpv4.WithRequestedOptions(
		dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
		dhcpv4.OptionDomainName, dhcpv4.OptionNTPServers))
	if err != nil {
		return Lease{}, 0, fmt.Errorf("requesting a lease: %w", err)
	}
	return leaseFromACK(l.ACK)
}

// leaseFromACK turns a DHCPACK into a Lease; an answer without a usable
// address or mask is an error.
func leaseFromACK(ack *dhcpv4.DHCPv4) (Lease, time.Duration, error) {
	if ack == nil {
		return Lease{}, 0, errors.New("no DHCPACK")
	}
	a, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || netsettings.CheckAddress(a.String()) != nil {
		return Lease{}, 0, fmt.Errorf("DHCP server offered the unusable address %v", ack.YourIPAddr)
	}
	mask := ack.SubnetMask()
	bits := 24
	if mask != nil {
		ones, size := mask.Size()
		if size != 32 || ones == 0 {
			return Lease{}, 0, fmt.Errorf("DHCP server gave the unusable subnet mask %v", mask)
		}
		bits = ones
	}
	l := Lease{Address: netip.PrefixFrom(a, bits), Domain: ack.DomainName()}
	for _, r := range ack.Router() {
		if g, ok := netip.AddrFromSlice(r.To4()); ok && netsettings.CheckGateway(g.String(), a.String(), bits) == nil {
			l.Gateway = g
			break
		}
	}
	for _, d := range ack.DNS() {
		if x, ok := netip.AddrFromSlice(d.To4()); ok && netsettings.CheckNameServer(x.String()) == nil {
			l.DNSServers = append(l.DNSServers, x)
		}
	}
	for _, n := range ack.NTPServers() {
		if x, ok := netip.AddrFromSlice(n.To4()); ok {
			l.NTPServers = append(l.NTPServers, x)
		}
	}
	if s, ok := netip.AddrFromSlice(ack.ServerIdentifier().To4()); ok {
		l.Server = s
	}
	return l, ack.IPAddressLeaseTime(time.Hour), nil
}

// stepClock moves the system clock by off.
func stepClock(off time.Duration) error {
	ts := unix.NsecToTimespec(time.Now().Add(off).UnixNano())
	return unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
}

// UpManagement brings up the dedicated management interface with its
// static address (no gateway: the default route stays on eth0, so
// licensing and other outgoing connections keep using it). Init calls it
// at boot when platform.ManagementConfig names the interface.
func UpManagement(ctx context.Context, name string, p netip.Prefix) error {
	if err := waitLink(ctx, name, 2*time.Second); err != nil {
		return err
	}
	link := netlinkLink{}
	if err := link.SetUp(name); err != nil {
		return fmt.Errorf("bringing up %s: %w", name, err)
	}
	return link.SetAddress(name, p)
}
