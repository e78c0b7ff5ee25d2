package vmtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"vxway/firstboot"
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

// manager is the real ssm program serving On-Prem on host loopback.
type manager struct {
	url    string // as the device reaches it
	caFile string
	data   string
	bin    string
}

func (m *manager) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(m.bin, append([]string{"--data", m.data}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (m *manager) token(t *testing.T) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(m.run(t, "token", "create", "--va", "Default", "--uses", "5")), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func startManager(t *testing.T) *manager {
	t.Helper()
	mod, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &manager{bin: filepath.Join(dir, "ssm"), data: filepath.Join(dir, "mgr")}
	build := exec.Command("go", "build", "-o", m.bin, "./cmd/ssm")
	build.Dir = mod
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ssm: %v\n%s", err, out)
	}
	m.run(t, "init", "--san", strings.TrimSuffix(managerName, ".")+",localhost,127.0.0.1")
	m.run(t, "account", "create", "Acme")
	m.run(t, "va", "create", "--account", "Acme", "Default")
	m.run(t, "license", "add", "--va", "Default", "--type", "rms", "--count", "10")
	m.caFile = filepath.Join(m.data, "ca.crt")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, m.bin, "--data", m.data, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--mode", "onprem")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		srv.Wait()
		if t.Failed() {
			t.Logf("manager log:\n%s", logs.String())
		}
	})
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("ssm serve: %v\n%s", err, logs.String())
	}
	go func() { // keep draining the manager's output
		buf := make([]byte, 4096)
		for {
			if _, err := stdout.Read(buf); err != nil {
				return
			}
		}
	}()
	m.url = fmt.Sprintf("https://%s:%d/SmartTransport", strings.TrimSuffix(managerName, "."), port)
	return m
}

// seedDisk is a VXPROV disk the test rewrites between boots (made with
// firstboot.WriteSeedDisk, as vxway provision-disk does).
type seedDisk string

func (s seedDisk) write(t *testing.T, seed string) {
	t.Helper()
	if err := firstboot.WriteSeedDisk(string(s), []byte(seed)); err != nil {
		t.Fatal(err)
	}
}

// blank leaves the disk attached but holding no seed.
func (s seedDisk) blank(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(string(s), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
}

func expectAll(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// testProvisioning boots one device through its provisioning life: a bad
// seed (nothing applied, every problem on the console, alarm 45001); a good
// seed that sets DNS and registers with the manager during first boot; the
// same seed at the next boot (not applied again).
func testProvisioning(t *testing.T, dns *dnsServer, mgr *manager, img string) {
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
	before := v.WaitFor(t, "vxway: ready", BootTimeout)
	expectAll(t, "console of the bad-seed boot", before,
		"firstboot: seed from VXPROV disk /dev/vdb rejected, nothing applied (4 problems):",
		"line 4: system.hostname:",
		`line 6: network.dns_servers: element 1: "not-an-ip" is not an IP address`,
		"line 8: licensing.transport: transport = \"onprem\" needs url",
		"line 9: licensing.colour: unknown key")
	v.Login(t, "admin", DefaultAdminPassword) // nothing applied: default password
	expectAll(t, "xstatus Alarm", v.XAPI(t, "xstatus Alarm"), "45001", "40005")
	expectAll(t, "xstatus Provisioning", v.XAPI(t, "xstatus Provisioning"),
		`*s Provisioning Status: "NotProvisioned"`, `*s Provisioning Result: "Rejected"`, `Last Problem 4`)
	v.Logout(t)
	v.Login(t, "root", DefaultRootPassword)
	v.PowerOff(t)

	// Boot 2: a good seed sets DNS and registers during first boot.
	token := mgr.token(t)
	seed := fmt.Sprintf(`version = 1
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
`, mgr.url, token)
	disk.write(t, seed)
	v.Start(t)
	before = v.WaitFor(t, "vxway: ready", BootTimeout)
	expectAll(t, "console of the first boot", before, "firstboot: applied seed vm-site-1 from VXPROV disk /dev/vdb")
	if strings.Contains(v.Transcript(), token) {
		t.Error("the console shows the registration token")
	}
	v.Login(t, "admin", "Adm1n-vm-secret")
	deadline := time.Now().Add(60 * time.Second)
	var prov string
	for {
		prov = v.XAPI(t, "xstatus Provisioning")
		if strings.Contains(prov, `Licensing: "Registered"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	expectAll(t, "xstatus Provisioning", prov, `*s Provisioning Status: "Provisioned"`, `*s Provisioning InstanceId: "vm-site-1"`,
		`*s Provisioning Source: "VXPROV disk /dev/vdb"`, `*s Provisioning Licensing: "Registered"`)
	expectAll(t, "xstatus License Smart", v.XAPI(t, "xstatus License Smart"),
		`*s License Smart Registration Status: "Registered"`, `*s License Smart Transport Mode: "OnPrem"`)
	expectAll(t, "xstatus Network", v.XAPI(t, "xstatus Network"),
		`*s Network IPv4 Address: "10.0.2.15"`, `*s Network DNS Server 1 Address: "10.0.2.2"`, `*s Network DNS Domain Name: "vxway.test"`)
	if alarms := v.XAPI(t, "xstatus Alarm"); strings.Contains(alarms, "45001") || strings.Contains(alarms, "40005") {
		t.Errorf("alarms after provisioning:\n%s", alarms)
	}
	if dns.count() == 0 {
		t.Error("the device never asked the test's DNS server")
	}
	v.Logout(t)

	// Boot 3: the same seed is not applied again.
	v.Login(t, "root", "R00t-vm-secret")
	v.Send(t, "reboot\r")
	before = v.WaitFor(t, "vxway: ready", BootTimeout)
	expectAll(t, "console of the next boot", before, "firstboot: seed vm-site-1 from VXPROV disk /dev/vdb was applied on", "not applying it again")

	v.Login(t, "root", "R00t-vm-secret")
	v.PowerOff(t)
}

// waitXAPI repeats line in the admin shell until ok accepts its answer or
// limit passes; it returns the last answer and whether ok accepted it.
func waitXAPI(t *testing.T, v *VM, line string, limit time.Duration, ok func(string) bool) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out := v.XAPI(t, line)
		if ok(out) {
			return out, true
		}
		if time.Now().After(deadline) {
			return out, false
		}
		time.Sleep(2 * time.Second)
	}
}

// testNetworkAndOfflineLicensing drives the network configuration live in
// the guest (DNS, a static address and back to DHCP), registers with the
// on-prem manager whose name only the test's DNS server knows, then factory
// resets keeping licensing (-t): without DNS the device shows 30042 and
// 30044, and configuring DNS clears both within 30 s (a DNS change makes
// the agent retry at once instead of in 15 minutes).
func testNetworkAndOfflineLicensing(t *testing.T, mgr *manager, img string) {
	v := Boot(t, img)
	v.WaitReady(t)
	v.Login(t, "admin", DefaultAdminPassword)

	expectAll(t, "xstatus Network (DHCP)", v.XAPI(t, "xstatus Network"),
		`*s Network State: "Up"`, `*s Network IPv4 DHCP: "On"`, `*s Network IPv4 Address: "10.0.2.15"`,
		`*s Network IPv4 Gateway: "10.0.2.2"`, `*s Network DNS Source: "DHCP"`, `*s Network DNS Server 1 Address: "10.0.2.3"`)
	expectAll(t, "a bad DNS server", v.XAPI(t, "xconfiguration DNS Server 1 Address: dns.example"), "is not an IP address", "ERROR")
	for _, line := range []string{
		"xconfiguration DNS Server 1 Address: 10.0.2.2",
		"xconfiguration DNS Domain Name: vxway.test",
		"xconfiguration IP Address: 10.0.2.20/24",
		"xconfiguration IP Gateway: 10.0.2.2",
		"xconfiguration IP DHCP: Off",
	} {
		expectAll(t, line, v.XAPI(t, line), "OK")
	}
	expectAll(t, "xstatus Network (static)", v.XAPI(t, "xstatus Network"),
		`*s Network IPv4 DHCP: "Off"`, `*s Network IPv4 Address: "10.0.2.20"`, `*s Network DNS Source: "Configured"`,
		`*s Network DNS Server 1 Address: "10.0.2.2"`, `*s Network DNS Domain Name: "vxway.test"`)
	expectAll(t, "xconfiguration License Smart Transport URL", v.XAPI(t, fmt.Sprintf("xconfiguration License Smart Transport URL: %q", mgr.url)), "OK")
	expectAll(t, "xconfiguration License Smart Transport Mode", v.XAPI(t, "xconfiguration License Smart Transport Mode: OnPrem"), "OK")
	expectAll(t, "register", v.XAPI(t, fmt.Sprintf("xcommand License Smart Register Token: %q", mgr.token(t))), `Registered`, "OK")
	expectAll(t, "back to DHCP", v.XAPI(t, "xconfiguration IP DHCP: On"), "OK")
	if out, ok := waitXAPI(t, v, "xstatus Network", 30*time.Second, func(s string) bool {
		return strings.Contains(s, `*s Network IPv4 Address: "10.0.2.15"`)
	}); !ok {
		t.Errorf("no DHCP address again:\n%s", out)
	}
	v.Logout(t)

	v.Login(t, "root", DefaultRootPassword)
	v.Send(t, "factory-reset -vt --yes\r")
	v.WaitReady(t)
	v.Login(t, "admin", DefaultAdminPassword)
	offline := regexp.MustCompile(`30042[\s\S]*30044|30044[\s\S]*30042`)
	alarms, ok := waitXAPI(t, v, "xstatus Alarm", 90*time.Second, offline.MatchString)
	if !ok {
		t.Fatalf("after the reset without DNS, 30042 and 30044 are not both raised:\n%s", alarms)
	}
	expectAll(t, "xstatus License Smart", v.XAPI(t, "xstatus License Smart"), `*s License Smart Registration Status: "Registered"`)
	expectAll(t, "xstatus Network (after reset)", v.XAPI(t, "xstatus Network"), `*s Network DNS Source: "DHCP"`)
	expectAll(t, "DNS change", v.XAPI(t, "xconfiguration DNS Server 1 Address: 10.0.2.2"), "OK")
	changed := time.Now()
	alarms, ok = waitXAPI(t, v, "xstatus Alarm", 30*time.Second, func(s string) bool {
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
	mgr := startManager(t)
	img := Image(t, WithTrustedCA(mgr.caFile))
	t.Run("NetworkAndOfflineLicensing", func(t *testing.T) { testNetworkAndOfflineLicensing(t, mgr, img) })
	t.Run("Provisioning", func(t *testing.T) { testProvisioning(t, dns, mgr, img) })
}
