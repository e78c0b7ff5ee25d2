package netsettings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	static := Config{Address: "192.0.2.10", PrefixLength: 24, Gateway: "192.0.2.1"}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings, one per expected problem; none means valid
	}{
		{name: "default", cfg: Default()},
		{name: "static", cfg: static},
		{name: "static without gateway", cfg: Config{Address: "10.1.2.3", PrefixLength: 8}},
		{name: "dhcp keeps static fields", cfg: Config{DHCP: true, Address: "192.0.2.10", PrefixLength: 24}},
		{name: "static needs address", cfg: Config{PrefixLength: 24}, want: []string{"address: missing"}},
		{name: "static needs prefix", cfg: Config{Address: "192.0.2.10"}, want: []string{"prefix_length: 0 is not a prefix length"}},
		{name: "ipv6 address", cfg: Config{Address: "2001:db8::1", PrefixLength: 64}, want: []string{"address: \"2001:db8::1\" is not an IPv4", "prefix_length: 64"}},
		{name: "garbage address", cfg: Config{Address: "abc", PrefixLength: 24}, want: []string{"address: \"abc\" is not an IPv4"}},
		{name: "loopback address", cfg: Config{Address: "127.0.0.5", PrefixLength: 8}, want: []string{"cannot be a host address"}},
		{name: "multicast address", cfg: Config{Address: "224.0.0.1", PrefixLength: 8}, want: []string{"cannot be a host address"}},
		{name: "prefix too long", cfg: Config{Address: "192.0.2.10", PrefixLength: 33}, want: []string{"prefix_length: 33"}},
		{name: "gateway outside subnet", cfg: Config{Address: "192.0.2.10", PrefixLength: 24, Gateway: "198.51.100.1"}, want: []string{"gateway: 198.51.100.1 is outside the device's subnet 192.0.2.0/24"}},
		{name: "gateway is self", cfg: Config{Address: "192.0.2.10", PrefixLength: 24, Gateway: "192.0.2.10"}, want: []string{"device's own address"}},
		{name: "gateway garbage", cfg: Config{DHCP: true, Gateway: "gw"}, want: []string{"gateway: \"gw\" is not an IPv4"}},
		{name: "dns servers", cfg: Config{DHCP: true, DNSServers: []string{"10.0.2.3", "2001:db8::53", "", "10.0.2.2"}}},
		{name: "dns bad", cfg: Config{DHCP: true, DNSServers: []string{"dns.example", "0.0.0.0"}}, want: []string{"dns_servers[1]: \"dns.example\" is not an IP address", "dns_servers[2]: 0.0.0.0 cannot be a DNS server"}},
		{name: "dns duplicate", cfg: Config{DHCP: true, DNSServers: []string{"10.0.2.3", "10.0.2.3"}}, want: []string{"dns_servers[2]: 10.0.2.3 is listed twice"}},
		{name: "dns too many", cfg: Config{DHCP: true, DNSServers: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}}, want: []string{"dns_servers: 6 servers given, at most 5"}},
		{name: "search domain", cfg: Config{DHCP: true, SearchDomain: "example.test"}},
		{name: "search domain bad", cfg: Config{DHCP: true, SearchDomain: "exa mple..test"}, want: []string{"search_domain:"}},
		{name: "search domain hyphen", cfg: Config{DHCP: true, SearchDomain: "-a.test"}, want: []string{"starts or ends with a hyphen"}},
		{name: "ntp servers", cfg: Config{DHCP: true, NTPServers: []string{"ntp.example.test", "10.0.2.2"}}},
		{name: "ntp bad", cfg: Config{DHCP: true, NTPServers: []string{"ntp_server!"}}, want: []string{"ntp_servers[1]: \"ntp_server!\" is neither an IP address nor a host name"}},
		{name: "ntp too many", cfg: Config{DHCP: true, NTPServers: []string{"a", "b", "c", "d", "e", "f"}}, want: []string{"ntp_servers: 6 servers given"}},
		{name: "several problems at once", cfg: Config{Address: "x", PrefixLength: 99, DNSServers: []string{"y"}, SearchDomain: "a..b"}, want: []string{"address:", "prefix_length:", "dns_servers[1]:", "search_domain:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tt.want) {
				t.Errorf("Validate() reported %d problems, want %d: %q", got, len(tt.want), err)
			}
		})
	}
}

func TestLoadSave(t *testing.T) {
	root := t.TempDir()
	c, err := Load(root)
	if !errors.Is(err, ErrNotConfigured) || !c.DHCP {
		t.Fatalf("Load(empty) = %+v, %v; want defaults and ErrNotConfigured", c, err)
	}
	want := Config{Address: "192.0.2.10", PrefixLength: 24, Gateway: "192.0.2.1", DNSServers: []string{"192.0.2.53"}, SearchDomain: "example.test", NTPServers: []string{}}
	if err := Save(root, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != want.Hash() {
		t.Fatalf("Load after Save = %+v, want %+v", got, want)
	}
	if err := Save(root, Config{Address: "bad"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Save(invalid) = %v, want ErrInvalid", err)
	}
	if got, _ := Load(root); got.Hash() != want.Hash() {
		t.Fatalf("an invalid Save changed the file: %+v", got)
	}
	p := filepath.Join(root, ConfigPath)
	for name, content := range map[string]string{
		"unknown field": `{"dhcp": true, "dns": []}`,
		"not json":      `dhcp = true`,
		"invalid":       `{"dhcp": false}`,
	} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(root); err == nil || errors.Is(err, ErrNotConfigured) {
			t.Errorf("%s: Load = %v, want an error", name, err)
		}
	}
}
