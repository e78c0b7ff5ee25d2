package vmtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"vxway/vm"

	"golang.org/x/net/dns/dnsmessage"
)

// managerName is the on-prem manager's host name in the provisioning
// tests: only the test's DNS server knows it.
const managerName = "ssm.vxway.test."

// dnsServer answers A queries for one name with one address, on
// 127.0.0.1:53 (UDP), which the guest reaches as 10.0.2.2:53 through
// QEMU's user network. Everything else gets NXDOMAIN.
type dnsServer struct {
	conn    net.PacketConn
	name    dnsmessage.Name
	addr    [4]byte
	mu      sync.Mutex
	queries int
}

func startDNS(t *testing.T, name string, addr [4]byte) *dnsServer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		if os.Geteuid() != 0 && os.Getenv("CI") == "" {
			t.Skipf("the DNS server needs 127.0.0.1:53 (root): %v", err)
		}
		t.Fatalf("DNS server on 127.0.0.1:53: %v", err)
	}
	s := &dnsServer{conn: c, name: dnsmessage.MustNewName(name), addr: addr}
	go s.serve()
	t.Cleanup(func() { c.Close() })
	return s
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.queries++
		s.mu.Unlock()
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
		known := strings.EqualFold(q.Name.String(), s.name.String())
		if !known {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if known && q.Type == dnsmessage.TypeA {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: s.addr})
		}
		out, err := b.Finish()
		if err != nil {
			continue
		}
		s.conn.WriteTo(out, from)
	}
}

func (s *dnsServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

func TestDNSServer(t *testing.T) {
	dns := startDNS(t, managerName, [4]byte{10, 0, 2, 2})
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", "127.0.0.1:53")
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, strings.TrimSuffix(managerName, "."))
	if err != nil || len(addrs) != 1 || addrs[0] != "10.0.2.2" {
		t.Fatalf("lookup = %v, %v", addrs, err)
	}
	if _, err := r.LookupHost(ctx, "other.vxway.test"); err == nil {
		t.Fatal("an unknown name resolved")
	}
	if dns.count() == 0 {
		t.Fatal("no query counted")
	}
}

// seedDisk is a VXPROV disk the test rewrites between boots (made with
// vm.WriteSeedDisk, as vxway provision-disk does).
type seedDisk string

func (s seedDisk) write(t *testing.T, seed string) {
	t.Helper()
	if err := vm.WriteSeedDisk(string(s), []byte(seed)); err != nil {
		t.Fatal(err)
	}
}

// testProvisioning boots one device through its provisioning life: a bad
// seed (nothing applied, every problem on the console, alarm 45001); a good
// seed that sets DNS and registers with the manager during first boot; the
// same seed at the next boot (not applied again).
func testProvisioning(t *testing.T, dns *dnsServer, mgr *ssmHost, img string) {
	disk := seedDisk(filepath.Join(t.TempDir(), "seed.img"))

	// Boot 1: a bad seed.
	disk.write(t, `version = 1
instance_id = "vm-site-1"
[system]
hostname = "-bad-"
[network]
dns_servers = ["not-an-ip"]
[licensing]
transport = "onprem"
colour = "blue"
`)
	v := Boot(t, img, ExtraDisk(string(disk)))
	v.WaitReady(t)
	wantLines(t, "console of the bad-seed boot", v.Transcript(),
		"firstboot: seed from VXPROV disk /dev/vdb rejected, nothing applied (4 problems):",
		"line 4: system.hostname:",
		`line 6: network.dns_servers: element 1: "not-an-ip" is not an IP address`,
		`line 8: licensing.transport: transport = "onprem" needs url`,
		"line 9: licensing.colour: unknown key")
	v.Login(t, "admin", DefaultAdminPassword) // nothing applied: default password
	wantOK(t, "xstatus Alarm", xapiLine(t, v, "xstatus Alarm"), "45001", "40005")
	wantOK(t, "xstatus Provisioning", xapiLine(t, v, "xstatus Provisioning"),
		`*s Provisioning Status: "NotProvisioned"`, `*s Provisioning Result: "Rejected"`, `*s Provisioning Last Problem 4:`)
	v.Logout(t)
	v.Login(t, "root", DefaultRootPassword)
	v.PowerOff(t)

	// Boot 2: a good seed sets DNS and registers during first boot.
	token := mgr.Token(t, "--va", "Default", "--uses", "1")
	disk.write(t, fmt.Sprintf(`version = 1
instance_id = "vm-site-1"
[system]
hostname = "expwy-vm"
domain = "vxway.test"
brand = "Expressway"
type = "Expressway-E"
[network]
dhcp = true
dns_servers = ["10.0.2.2"]
[users.admin]
password = "Adm1n-vm-secret"
[users.root]
password = "R00t-vm-secret"
[licensing]
transport = "onprem"
url = %q
token = %q
hide_hostname = false
`, mgr.URL(strings.TrimSuffix(managerName, ".")), token))
	queries := dns.count()
	v.Start(t)
	initReady, sinceStart := v.WaitReady(t)
	t.Logf("first boot with a full seed: ready %s after QEMU start (init reports %s)", sinceStart.Round(time.Millisecond), initReady)
	wantLines(t, "console of the first boot", v.Transcript(), "firstboot: applied seed vm-site-1 from VXPROV disk /dev/vdb")
	v.Login(t, "admin", "Adm1n-vm-secret")
	prov, ok := pollXAPI(t, v, "xstatus Provisioning", registrationLimit, func(s string) bool {
		return strings.Contains(s, `*s Provisioning Licensing: "Registered"`)
	})
	if !ok {
		t.Fatalf("not registered %s after first boot:\n%s", registrationLimit, prov)
	}
	t.Logf("registered (polled) %s after QEMU start", time.Since(v.Started()).Round(time.Second))
	wantOK(t, "xstatus Provisioning", prov, `*s Provisioning Status: "Provisioned"`, `*s Provisioning InstanceId: "vm-site-1"`,
		`*s Provisioning Source: "VXPROV disk /dev/vdb"`, `*s Provisioning Result: "Applied"`)
	wantOK(t, "xstatus License Smart", xapiLine(t, v, "xstatus License Smart"),
		`*s License Smart Registration Status: "Registered"`, `*s License Smart Transport Mode: "OnPrem"`)
	wantOK(t, "xstatus Network", xapiLine(t, v, "xstatus Network"),
		`*s Network IPv4 Address: "10.0.2.15"`, `*s Network DNS Server 1 Address: "10.0.2.2"`, `*s Network DNS Domain Name: "vxway.test"`)
	if alarms := xapiLine(t, v, "xstatus Alarm"); strings.Contains(alarms, "45001") || strings.Contains(alarms, "40005") || strings.Contains(alarms, "40003") {
		t.Errorf("alarms after provisioning:\n%s", alarms)
	}
	if dns.count() == queries {
		t.Error("the device never asked the test's DNS server for the manager")
	}
	if strings.Contains(v.Transcript(), token) {
		t.Error("the console shows the registration token")
	}
	v.Logout(t)

	// Boot 3: the same seed is not applied again.
	v.Login(t, "root", "R00t-vm-secret")
	v.Reboot(t)
	wantLines(t, "console of the next boot", v.Transcript(),
		"firstboot: seed vm-site-1 from VXPROV disk /dev/vdb was applied on", "not applying it again")
	v.Login(t, "root", "R00t-vm-secret")
	v.PowerOff(t)
}

// testNetworkAndOfflineLicensing drives the network configuration live in
// the guest (DNS, a static address and back to DHCP), registers with the
// on-prem manager whose name only the test's DNS server knows, then factory
// resets keeping brand, type and licensing (-vt): without DNS the device
// shows 30042 and 30044, and configuring DNS clears both within 30 s (a DNS
// change makes the agent retry at once instead of in 15 minutes).
func testNetworkAndOfflineLicensing(t *testing.T, mgr *ssmHost, img string) {
	v := Boot(t, img)
	initReady, sinceStart := v.WaitReady(t)
	t.Logf("plain boot: ready %s after QEMU start (init reports %s)", sinceStart.Round(time.Millisecond), initReady)
	v.Login(t, "admin", DefaultAdminPassword)

	wantOK(t, "xstatus Network (DHCP)", xapiLine(t, v, "xstatus Network"),
		`*s Network State: "Up"`, `*s Network IPv4 DHCP: "On"`, `*s Network IPv4 Address: "10.0.2.15"`,
		`*s Network IPv4 Gateway: "10.0.2.2"`, `*s Network DNS Source: "DHCP"`, `*s Network DNS Server 1 Address: "10.0.2.3"`)
	bad := xapiLine(t, v, "xconfiguration DNS Server 1 Address: dns.example")
	wantLines(t, "a bad DNS server", bad, "is not an IP address", "ERROR")
	for _, line := range []string{
		"xconfiguration DNS Server 1 Address: 10.0.2.2",
		"xconfiguration DNS Domain Name: vxway.test",
		"xconfiguration IP Address: 10.0.2.20/24",
		"xconfiguration IP Gateway: 10.0.2.2",
		"xconfiguration IP DHCP: Off",
	} {
		wantOK(t, line, xapiLine(t, v, line))
	}
	wantOK(t, "xstatus Network (static)", xapiLine(t, v, "xstatus Network"),
		`*s Network IPv4 DHCP: "Off"`, `*s Network IPv4 Address: "10.0.2.20"`, `*s Network DNS Source: "Configured"`,
		`*s Network DNS Server 1 Address: "10.0.2.2"`, `*s Network DNS Domain Name: "vxway.test"`)
	url := mgr.URL(strings.TrimSuffix(managerName, "."))
	wantOK(t, "transport mode", xapiLine(t, v, "xconfiguration License Smart Transport Mode: OnPrem"))
	wantOK(t, "transport URL", xapiLine(t, v, fmt.Sprintf("xconfiguration License Smart Transport URL: %q", url)))
	token := mgr.Token(t, "--va", "Default", "--uses", "1")
	wantOK(t, "register by name through the test's DNS", xapiLine(t, v, fmt.Sprintf("xcommand License Smart Register Token: %q", token)),
		`*r License Smart Register Status: "Registered"`)
	wantOK(t, "back to DHCP", xapiLine(t, v, "xconfiguration IP DHCP: On"))
	if out, ok := pollXAPI(t, v, "xstatus Network", 30*time.Second, func(s string) bool {
		return strings.Contains(s, `*s Network IPv4 Address: "10.0.2.15"`)
	}); !ok {
		t.Errorf("no DHCP address again:\n%s", out)
	}
	v.Logout(t)

	// Root's default password logs in on the console only; the reset runs
	// over SSH.
	v.SetRootPassword(t, DefaultRootPassword, RootPassword)
	resetAndWait(t, v, RootPassword, "-vt --yes")
	wantLines(t, "console after the reset", v.Transcript(), "firstboot: not provisioned (no VXPROV disk)")
	v.Login(t, "admin", DefaultAdminPassword)
	offline := regexp.MustCompile(`30042[\s\S]*30044|30044[\s\S]*30042`)
	alarms, ok := pollXAPI(t, v, "xstatus Alarm", 90*time.Second, offline.MatchString)
	if !ok {
		t.Fatalf("after the reset without DNS, 30042 and 30044 are not both raised:\n%s", alarms)
	}
	wantOK(t, "xstatus License Smart (offline)", xapiLine(t, v, "xstatus License Smart"), `*s License Smart Registration Status: "Registered"`)
	wantOK(t, "xstatus Network (after the reset)", xapiLine(t, v, "xstatus Network"), `*s Network DNS Source: "DHCP"`)
	wantOK(t, "DNS change", xapiLine(t, v, "xconfiguration DNS Server 1 Address: 10.0.2.2"))
	changed := time.Now()
	alarms, ok = pollXAPI(t, v, "xstatus Alarm", 30*time.Second, func(s string) bool {
		return !strings.Contains(s, "30042") && !strings.Contains(s, "30044")
	})
	if !ok {
		t.Fatalf("30042/30044 still raised 30 s after the DNS change:\n%s", alarms)
	}
	t.Logf("30042 and 30044 cleared %s after the DNS change", time.Since(changed).Round(time.Second))
	v.Logout(t)
	v.Login(t, "root", DefaultRootPassword)
	v.PowerOff(t)
}

// TestNetworkAndProvisioning runs the network and provisioning VM tests
// against one DNS server, one manager and one image (built trusting the
// manager's CA).
func TestNetworkAndProvisioning(t *testing.T) {
	RequireVM(t)
	dns := startDNS(t, managerName, [4]byte{10, 0, 2, 2})
	mgr := startSSM(t, strings.TrimSuffix(managerName, "."), guestHostAddr, "127.0.0.1", "localhost")
	mgr.Run(t, "account", "create", "Acme")
	mgr.Run(t, "va", "create", "--account", "Acme", "Default")
	mgr.Run(t, "license", "add", "--va", "Default", "--type", "rms", "--count", "10")
	img := Image(t, WithTrustedCA(mgr.CAPEM))
	t.Run("NetworkAndOfflineLicensing", func(t *testing.T) { testNetworkAndOfflineLicensing(t, mgr, img) })
	t.Run("Provisioning", func(t *testing.T) { testProvisioning(t, dns, mgr, img) })
}
