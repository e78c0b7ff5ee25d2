package netconf

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"vxway/netsettings"

	"vxway/atomicfile"
)

// ResolvPath is the resolver configuration the device's programs read,
// relative to the device root.
const ResolvPath = "etc/resolv.conf"

// Lease is what a DHCP server gave eth0.
type Lease struct {
	Address    netip.Prefix
	Gateway    netip.Addr
	DNSServers []netip.Addr
	Domain     string
	NTPServers []netip.Addr
	// Server is the DHCP server that answered.
	Server netip.Addr
}

// Effective is the configuration in force: the persisted Config merged
// with the DHCP lease when DHCP is on.
type Effective struct {
	DHCP       bool
	Address    netip.Prefix // zero while DHCP has no lease
	Gateway    netip.Addr   // zero when none
	DNSServers []string
	// DNSFromDHCP tells that DNSServers came from the lease.
	DNSFromDHCP  bool
	SearchDomain string
	NTPServers   []string
}

// Merge computes the effective settings of c with lease (nil when DHCP is
// off or has no lease yet). Configured DNS servers, search domain and NTP
// servers win over those of the lease.
func Merge(c netsettings.Config, lease *Lease) Effective {
	e := Effective{
		DHCP:         c.DHCP,
		DNSServers:   netsettings.Servers(c.DNSServers),
		SearchDomain: c.SearchDomain,
		NTPServers:   netsettings.Servers(c.NTPServers),
	}
	if !c.DHCP {
		e.Address, e.Gateway = c.Static()
		return e
	}
	if lease == nil {
		return e
	}
	e.Address, e.Gateway = lease.Address, lease.Gateway
	if len(e.DNSServers) == 0 {
		for _, a := range lease.DNSServers {
			e.DNSServers = append(e.DNSServers, a.String())
		}
		e.DNSFromDHCP = len(e.DNSServers) > 0
	}
	if e.SearchDomain == "" && netsettings.CheckDomain(lease.Domain) == nil {
		e.SearchDomain = lease.Domain
	}
	if len(e.NTPServers) == 0 {
		for _, a := range lease.NTPServers {
			e.NTPServers = append(e.NTPServers, a.String())
		}
	}
	return e
}

// RenderResolv renders /etc/resolv.conf for e.
func RenderResolv(e Effective) []byte {
	var b strings.Builder
	src := "network.json"
	if e.DNSFromDHCP {
		src = "DHCP"
	}
	fmt.Fprintf(&b, "# Written by the device's network configuration (DNS servers from %s).\n", src)
	fmt.Fprintf(&b, "# Change it with: xconfiguration DNS Server 1 Address: <ip>\n")
	if e.SearchDomain != "" {
		fmt.Fprintf(&b, "search %s\n", strings.TrimSuffix(e.SearchDomain, "."))
	}
	for i, s := range e.DNSServers {
		if i == 3 {
			// The resolver reads at most three nameserver lines.
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	b.WriteString("options timeout:2 attempts:2\n")
	return []byte(b.String())
}

// WriteResolv writes /etc/resolv.conf for e under root, atomically and only
// when its content changes. It reports whether it wrote.
func WriteResolv(root string, e Effective) (bool, error) {
	p := filepath.Join(root, ResolvPath)
	want := RenderResolv(e)
	if got, err := os.ReadFile(p); err == nil && string(got) == string(want) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	if err := atomicfile.WriteFile(p, want, 0o644); err != nil {
		return false, err
	}
	return true, nil
}
