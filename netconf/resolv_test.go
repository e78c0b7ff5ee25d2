package netconf

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"vxway/netsettings"
)

func TestMergeAndResolv(t *testing.T) {
	lease := &Lease{
		Address:    netip.MustParsePrefix("10.0.2.15/24"),
		Gateway:    netip.MustParseAddr("10.0.2.2"),
		DNSServers: []netip.Addr{netip.MustParseAddr("10.0.2.3")},
		Domain:     "dhcp.test",
		NTPServers: []netip.Addr{netip.MustParseAddr("10.0.2.4")},
	}
	tests := []struct {
		name    string
		cfg     netsettings.Config
		lease   *Lease
		resolv  string
		address string
	}{
		{
			name: "dhcp everything", cfg: netsettings.Default(), lease: lease, address: "10.0.2.15/24",
			resolv: "search dhcp.test\nnameserver 10.0.2.3\n",
		},
		{
			name: "dhcp without lease", cfg: netsettings.Default(),
			resolv: "",
		},
		{
			name: "configured dns wins", cfg: netsettings.Config{DHCP: true, DNSServers: []string{"", "10.0.2.2"}, SearchDomain: "example.test"}, lease: lease, address: "10.0.2.15/24",
			resolv: "search example.test\nnameserver 10.0.2.2\n",
		},
		{
			name: "static", cfg: netsettings.Config{Address: "192.0.2.10", PrefixLength: 24, DNSServers: []string{"192.0.2.53", "192.0.2.54", "192.0.2.55", "192.0.2.56"}}, lease: lease, address: "192.0.2.10/24",
			resolv: "nameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 192.0.2.55\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Merge(tt.cfg, tt.lease)
			if got := e.Address; (got.IsValid() || tt.address != "") && got.String() != tt.address {
				t.Errorf("address = %v, want %s", got, tt.address)
			}
			root := t.TempDir()
			wrote, err := WriteResolv(root, e)
			if err != nil || !wrote {
				t.Fatalf("WriteResolv = %v, %v", wrote, err)
			}
			b, err := os.ReadFile(filepath.Join(root, ResolvPath))
			if err != nil {
				t.Fatal(err)
			}
			var body []string
			for _, l := range strings.SplitAfter(string(b), "\n") {
				if strings.HasPrefix(l, "search ") || strings.HasPrefix(l, "nameserver ") {
					body = append(body, l)
				}
			}
			if got := strings.Join(body, ""); got != tt.resolv {
				t.Errorf("resolv.conf =\n%s\nwant lines\n%s", b, tt.resolv)
			}
			if wrote, err := WriteResolv(root, e); wrote || err != nil {
				t.Errorf("second WriteResolv = %v, %v; want no write", wrote, err)
			}
		})
	}
}
