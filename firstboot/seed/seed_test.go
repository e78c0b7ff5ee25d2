package seed

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"vxway/testsupport"

	"golang.org/x/crypto/bcrypt"

	"vxway/agentclient"
	"vxway/platform"
)

const sha512Hash = testsupport.SeedSHA512Hash

func testKey(t testing.TB) string { return testsupport.AuthorizedKey(t) }

func fullSeed(t testing.TB) string { return testsupport.FullSeed(t) }

func TestParseFullSeed(t *testing.T) {
	s, err := Parse([]byte(fullSeed(t)))
	if err != nil {
		t.Fatal(err)
	}
	if s.InstanceID != "site-a-001" || s.Version != 1 {
		t.Errorf("id %q version %d", s.InstanceID, s.Version)
	}
	if *s.System != (System{Hostname: "expwy-a", Domain: "example.test", Brand: platform.BrandExpressway, Type: platform.TypeE}) {
		t.Errorf("system = %+v", *s.System)
	}
	n := s.Network
	if n.DHCP || n.Address != "192.0.2.10" || n.PrefixLength != 24 || n.Gateway != "192.0.2.1" ||
		strings.Join(n.DNSServers, ",") != "10.0.2.2,192.0.2.53" || n.NTPServers[0] != "ntp.example.test" || n.SearchDomain != "corp.example.test" {
		t.Errorf("network = %+v", *n)
	}
	if u := s.Users["admin"]; u.Password != "Adm1n-secret" || u.Hash != "" || !u.SetKeys || len(u.AuthorizedKeys) != 1 {
		t.Errorf("admin = %+v", u)
	}
	if u := s.Users["root"]; u.Hash != sha512Hash || u.Password != "" || u.SetKeys {
		t.Errorf("root = %+v", u)
	}
	l := s.Licensing
	if l.Config.Mode != agentclient.OnPrem || l.Config.URL != "https://ssm.example.test/SmartTransport" || !l.Config.HideHostname || l.Token != "tok-abc-123" || !l.Register {
		t.Errorf("licensing = %+v", *l)
	}
	if sum := s.Summary(); strings.Contains(sum, "tok-abc-123") || strings.Contains(sum, "Adm1n-secret") {
		t.Errorf("Summary shows a secret: %s", sum)
	}
}

func TestParseMinimalSeeds(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("Secret-123"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		seed  string
		check func(*Seed) error
	}{
		{"id only", "version = 1\ninstance_id = \"a\"\n", func(s *Seed) error {
			if s.System != nil || s.Network != nil || s.Users != nil || s.Licensing != nil {
				return fmt.Errorf("sections set: %+v", s)
			}
			return nil
		}},
		{"dhcp with dns, domain from system", "version = 1\ninstance_id = \"a\"\n[system]\ndomain = \"ex.test\"\n[network]\ndhcp = true\ndns_servers = [\"10.0.2.2\"]\n", func(s *Seed) error {
			if !s.Network.DHCP || s.Network.SearchDomain != "ex.test" {
				return fmt.Errorf("network %+v", *s.Network)
			}
			return nil
		}},
		{"address implies static", "version = 1\ninstance_id = \"a\"\n[network]\naddress = \"10.1.1.5/16\"\n", func(s *Seed) error {
			if s.Network.DHCP || s.Network.PrefixLength != 16 {
				return fmt.Errorf("network %+v", *s.Network)
			}
			return nil
		}},
		{"bcrypt hash", "version = 1\ninstance_id = \"a\"\n[users.admin]\npassword = \"" + string(bc) + "\"\n", func(s *Seed) error {
			if s.Users["admin"].Hash != string(bc) {
				return fmt.Errorf("users %+v", s.Users)
			}
			return nil
		}},
		{"proxy", "version = 1\ninstance_id = \"a\"\n[licensing]\ntransport = \"proxy\"\nproxy_address = \"proxy.example.test\"\nproxy_port = 3128\nproxy_username = \"u\"\nproxy_password = \"p\"\n", func(s *Seed) error {
			c := s.Licensing.Config
			if c.Mode != agentclient.Proxy || c.ProxyAddress != "proxy.example.test" || c.ProxyPort != 3128 || s.Licensing.Register {
				return fmt.Errorf("licensing %+v", c)
			}
			return nil
		}},
		{"direct token registers by default", "version = 1\ninstance_id = \"a\"\n[licensing]\ntoken = \"t\"\n", func(s *Seed) error {
			if s.Licensing.Config.Mode != agentclient.Direct || !s.Licensing.Register {
				return fmt.Errorf("licensing %+v", *s.Licensing)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.seed))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(s); err != nil {
				t.Error(err)
			}
		})
	}
}

// problem is an expected problem: its key, line and a piece of its text.
type problem struct {
	key  string
	line int
	text string
}

func TestParseProblems(t *testing.T) {
	head := "version = 1\ninstance_id = \"a\"\n" // lines 1-2
	key := testKey(t)
	tests := []struct {
		name string
		seed string
		want []problem
	}{
		{"syntax", "version = 1\ninstance_id = \"a\n", []problem{{"syntax", 2, "fix the TOML syntax"}}},
		{"missing version and id", "[system]\nhostname = \"x\"\n", []problem{{"version", 0, "missing"}, {"instance_id", 0, "missing"}}},
		{"version wrong", "version = 2\ninstance_id = \"a\"\n", []problem{{"version", 1, "version 2 is not supported"}}},
		{"version type", "version = \"1\"\ninstance_id = \"a\"\n", []problem{{"version", 1, "is a string; write a whole number"}}},
		{"instance id bad", "version = 1\ninstance_id = \"has space\"\n", []problem{{"instance_id", 2, "use 1 to 64 letters"}}},
		{"instance id type", "version = 1\ninstance_id = 7\n", []problem{{"instance_id", 2, "is an integer"}}},
		{"unknown top key", head + "colour = \"blue\"\n", []problem{{"colour", 3, "unknown key"}}},
		{"unknown table", head + "[extras]\na = 1\n", []problem{{"extras", 3, "unknown key"}}},
		{"section not a table", head + "system = \"x\"\n", []problem{{"system", 3, "it must be a table"}}},
		{"system all bad", head + "[system]\nhostname = \"-bad-\"\ndomain = \"a..b\"\nbrand = \"Acme\"\ntype = \"Expressway-X\"\nsize = 3\n", []problem{
			{"system.hostname", 4, "letters, digits and inner hyphens"},
			{"system.domain", 5, "empty label"},
			{"system.brand", 6, "use Expressway or VCS"},
			{"system.type", 7, "use Expressway-C or Expressway-E"},
			{"system.size", 8, "unknown key"},
		}},
		{"system types", head + "[system]\nhostname = 5\n", []problem{{"system.hostname", 4, "is an integer; write it as a quoted string"}}},
		{"network dhcp and address", head + "[network]\ndhcp = true\naddress = \"192.0.2.10/24\"\n", []problem{{"network.address", 5, "dhcp = true"}}},
		{"network static without address", head + "[network]\ndhcp = false\n", []problem{{"network.dhcp", 4, "needs address"}}},
		{"network dhcp type", head + "[network]\ndhcp = \"yes\"\n", []problem{{"network.dhcp", 4, "write true or false"}}},
		{"network address forms", head + "[network]\naddress = \"192.0.2.10\"\n", []problem{{"network.address", 4, "write it as \"192.0.2.10/24\""}}},
		{"network address loopback", head + "[network]\naddress = \"127.0.0.2/8\"\n", []problem{{"network.address", 4, "cannot be a host address"}}},
		{"network gateway outside", head + "[network]\naddress = \"192.0.2.10/24\"\ngateway = \"10.0.0.1\"\n", []problem{{"network.gateway", 5, "outside the device's subnet"}}},
		{"network gateway with dhcp", head + "[network]\ngateway = \"10.0.0.1\"\n", []problem{{"network.gateway", 4, "comes from DHCP"}}},
		{"network dns", head + "[network]\ndns_servers = [\"10.0.2.2\", \"dns.example\", \"10.0.2.2\", 5]\n", []problem{
			{"network.dns_servers", 4, "element 4 is an integer"},
			{"network.dns_servers", 4, "element 2: \"dns.example\" is not an IP address"},
			{"network.dns_servers", 4, "element 3: 10.0.2.2 is listed twice"},
		}},
		{"network dns multi-line", head + "[network]\ndns_servers = [\n  \"10.0.2.2\",\n  \"nope\",\n]\nntp_servers = \"x\"\n", []problem{
			{"network.dns_servers", 4, "element 2"},
			{"network.ntp_servers", 8, "is a string; write an array"},
		}},
		{"network too many", head + "[network]\ndns_servers = [\"10.0.0.1\",\"10.0.0.2\",\"10.0.0.3\",\"10.0.0.4\",\"10.0.0.5\",\"10.0.0.6\"]\nntp_servers = [\"a\",\"b\",\"c\",\"d\",\"e\",\"bad name\"]\n", []problem{
			{"network.dns_servers", 4, "6 servers given"},
			{"network.ntp_servers", 5, "6 servers given"},
			{"network.ntp_servers", 5, "element 6"},
		}},
		{"network search domain", head + "[network]\nsearch_domain = \"bad_domain\"\nmtu = 1500\n", []problem{
			{"network.search_domain", 4, "holds '_'"},
			{"network.mtu", 5, "unknown key"},
		}},
		{"users", head + "[users.admin]\npassword = \"short\"\nssh_authorized_keys = [\"ssh-rsa nope\"]\nshell = \"sh\"\n[users.root]\npassword = \"$6$bad\"\n[users.bob]\npassword = \"Bobs-password\"\n", []problem{
			{"users.admin.password", 4, "use at least 8"},
			{"users.admin.ssh_authorized_keys", 5, "element 1 is not an ssh public key"},
			{"users.admin.shell", 6, "unknown key"},
			{"users.root.password", 8, "not one"},
			{"users.bob", 9, "unknown user"},
		}},
		{"users hash kinds", head + "[users.admin]\npassword = \"$2b$10$short\"\n[users.root]\npassword = \"$1$md5$x\"\n", []problem{
			{"users.admin.password", 4, "bcrypt"},
			{"users.root.password", 6, "not a $6$ or $2b$ hash"},
		}},
		{"users hash costs", head + "[users.admin]\npassword = \"$2b$31$" + strings.Repeat("a", 53) + "\"\n[users.root]\npassword = \"$6$rounds=999999999$salt$" + strings.Repeat("a", 86) + "\"\n", []problem{
			{"users.admin.password", 4, "bcrypt cost 31; at most 12"},
			{"users.root.password", 6, "999999999 rounds; at most 100000"},
		}},
		{"users key options", head + "[users.admin]\nssh_authorized_keys = [\"from=\\\"10.0.0.1\\\",command=\\\"true\\\" " + key + "\", \"restrict " + key + "\"]\n", []problem{
			{"users.admin.ssh_authorized_keys", 4, `element 1 starts with options (from="10.0.0.1",command="true")`},
			{"users.admin.ssh_authorized_keys", 4, "element 2 starts with options (restrict)"},
		}},
		{"users dotted keys", head + "users.admin.password = \"tiny\"\n", []problem{{"users.admin.password", 3, "use at least 8"}}},
		{"licensing transport", head + "[licensing]\ntransport = \"carrier-pigeon\"\n", []problem{{"licensing.transport", 4, "use \"direct\", \"onprem\" or \"proxy\""}}},
		{"licensing onprem without url", head + "[licensing]\ntransport = \"onprem\"\n", []problem{{"licensing.transport", 4, "needs url"}}},
		{"licensing bad url", head + "[licensing]\ntransport = \"onprem\"\nurl = \"http://ssm.example.test/x\"\n", []problem{{"licensing.url", 5, ""}}},
		{"licensing url with direct", head + "[licensing]\ntransport = \"direct\"\nurl = \"https://ssm.example.test/SmartTransport\"\n", []problem{{"licensing.url", 5, "only with transport = \"onprem\""}}},
		{"licensing proxy missing", head + "[licensing]\ntransport = \"proxy\"\nproxy_username = \"u\"\n", []problem{
			{"licensing.transport", 4, "needs proxy_address"},
			{"licensing.transport", 4, "needs proxy_port"},
		}},
		{"licensing proxy bad", head + "[licensing]\ntransport = \"proxy\"\nproxy_address = \"bad host!\"\nproxy_port = 70000\n", []problem{
			{"licensing.proxy_address", 5, "proxy address"},
			{"licensing.proxy_port", 6, "port"},
		}},
		{"licensing proxy fields with direct", head + "[licensing]\nproxy_port = 8080\n", []problem{{"licensing.proxy_port", 4, "only with transport = \"proxy\""}}},
		{"licensing token", head + "[licensing]\ntoken = \"has space\"\nhide_hostname = \"yes\"\n", []problem{
			{"licensing.token", 4, "holds a space"},
			{"licensing.hide_hostname", 5, "write true or false"},
		}},
		{"licensing register without token", head + "[licensing]\nregister = true\n", []problem{{"licensing.register", 4, "needs token"}}},
		{"licensing token without register", head + "[licensing]\ntoken = \"t\"\nregister = false\n", []problem{{"licensing.token", 4, "register = false"}}},
		{"licensing on vcs", head + "[system]\nbrand = \"VCS\"\n[licensing]\ntransport = \"direct\"\n", []problem{{"licensing", 5, "needs brand = \"Expressway\""}}},
		{"licensing unknown", head + "[licensing]\nmode = \"direct\"\n", []problem{{"licensing.mode", 4, "unknown key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.seed))
			if s != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %+v, %v; want ErrInvalid", s, err)
			}
			got := Problems(err)
			if len(got) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(got), len(tt.want), err)
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					if g.Key == w.key && g.Line == w.line && strings.Contains(g.Msg, w.text) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem {%s line %d %q} in:\n%v", w.key, w.line, w.text, err)
				}
			}
			if strings.Contains(err.Error(), "has space") && strings.Contains(tt.seed, "token = \"has space\"") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(fullSeed(f)))
	f.Add([]byte("version = 1\ninstance_id = \"a\"\n[network]\ndns_servers = [\n\"x\",\n]\n"))
	f.Add([]byte("version = 1\n[[users]]\nx = 1\n"))
	f.Add([]byte("a.b.c = '''\nx\n'''\n[t]\nk = { a = 1 }\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if (s == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want exactly one", s, err)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) || len(Problems(err)) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		if s.Version != Version || s.InstanceID == "" {
			t.Fatalf("valid seed without version or id: %+v", s)
		}
		_ = s.Summary()
	})
}
