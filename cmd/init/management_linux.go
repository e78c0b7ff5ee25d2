package main

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"vxway/netconf"
	"vxway/platform"
)

// applyManagement reads the dedicated management interface setting once
// per boot: an address alone brings eth1 up with it (Ethernet 2, the
// cluster link); when the setting also names eth1, eth1 gets its address and the SSH and
// HTTPS servers listen on that address only, bound to eth1 (a packet for
// it arriving on eth0 is not taken). If eth1 cannot be brought up the
// servers listen everywhere, so the device stays reachable, and the
// console says why.
func (d *device) applyManagement(ctx context.Context) {
	cfg, err := platform.LoadManagementConfig(d.root)
	if err != nil {
		d.logf("management interface: %v; SSH and HTTPS listen on every interface", err)
		return
	}
	if cfg.Interface == "" {
		// The address alone (Ethernet 2, the cluster link): eth1 comes up
		// with it, and SSH and HTTPS keep listening everywhere.
		if cfg.Address == "" {
			return
		}
		p, err := cfg.Prefix()
		if err == nil {
			err = netconf.UpManagement(ctx, platform.ManagementInterface, p)
		}
		if err != nil {
			d.logf("second interface %s: %v", platform.ManagementInterface, err)
			return
		}
		d.logf("second interface %s %s", platform.ManagementInterface, p)
		return
	}
	p, err := cfg.Prefix()
	if err == nil {
		err = netconf.UpManagement(ctx, cfg.Interface, p)
	}
	if err != nil {
		d.logf("management interface %s: %v; SSH and HTTPS listen on every interface", cfg.Interface, err)
		return
	}
	d.bindDevice = cfg.Interface
	d.sshAddr = addrWithPort(p.Addr(), d.sshAddr)
	d.httpsAddr = addrWithPort(p.Addr(), d.httpsAddr)
	d.logf("management interface %s %s: SSH and HTTPS listen there only", cfg.Interface, p)
}

// addrWithPort is a on the port of the listen address old (":22").
func addrWithPort(a netip.Addr, old string) string {
	_, port, err := net.SplitHostPort(old)
	if err != nil {
		return old
	}
	n, _ := strconv.Atoi(port)
	return netip.AddrPortFrom(a, uint16(n)).String()
}

// listen opens a server's listener, bound to the management interface
// when there is one.
func (d *device) listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{}
	if dev := d.bindDevice; dev != "" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	return lc.Listen(context.Background(), "tcp", addr)
}
