package vmtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"vxway/vm"
)

// withLink puts the VM's second NIC on a two-VM socket network on host
// loopback port.
func withLink(port int, listen bool) Option {
	return func(o *vm.Options) { o.Link = &vm.LinkNIC{Port: port, Listen: listen} }
}

// waitListening waits until a process listens on 127.0.0.1:port, read
// from /proc/net/tcp so that no connection is made (QEMU's socket
// network takes the first connection as its peer).
func waitListening(t *testing.T, port int) {
	t.Helper()
	want := fmt.Sprintf(":%04X 00000000:0000 0A", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on 127.0.0.1:%d", port)
		}
	}
}

// statusValue is the value of one `*s` line of out (quotes removed).
func statusValue(t *testing.T, out, path string) string {
	t.Helper()
	v, ok := resultValue(out, "s", path)
	if !ok {
		t.Fatalf("no %s in:\n%s", path, out)
	}
	return v
}

// adminXAPI runs one xAPI line as admin over SSH (one session per line,
// so that no typed line races the shell's prompt on a loaded console)
// and returns its output; ok reports an OK answer.
func adminXAPI(t *testing.T, v *VM, line string) (out string, ok bool) {
	t.Helper()
	out, code := v.SSH(t, "admin", DefaultAdminPassword, line)
	return out, code == 0 && strings.HasSuffix(strings.TrimRight(out, "\r\n"), "OK")
}

// waitSSH waits until the VM's SSH server lets admin in (eth0's DHCP
// lease may come after ready on a loaded machine).
func waitSSH(t *testing.T, v *VM) {
	t.Helper()
	for deadline := time.Now().Add(CommandTimeout); v.SSHLogin("admin", DefaultAdminPassword) != nil; time.Sleep(2 * time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("SSH does not answer")
		}
	}
}

// clusterNode is one VM of the cluster test.
type clusterNode struct {
	v      *VM
	addr   string
	serial string
}

// TestCluster boots two VMs whose second NICs share a private socket
// network, each with its own identity and an SLR reservation of 10
// desktop and 10 RMS from the real manager. After one restart (the
// second interface's address takes effect at boot) it plays the vendor
// document's example from the console: node 1's eleventh session borrows
// from node 2, up to twenty; node 2 shows them lent and cannot use them;
// both see each other Up in xstatus Alternates. Node 2 is then killed
// (a power cut) and node 1's borrowed licenses stop counting one lease
// (20 s, set for the test) later: its RMS use is Over Reservation.
func TestCluster(t *testing.T) {
	mgr := newReservationManager(t)
	mgr.run(t, "account", "create", "Acme")
	mgr.run(t, "va", "create", "--account", "Acme", "Sales")
	mgr.run(t, "license", "add", "--va", "Sales", "--type", "rms", "--count", "20")
	mgr.run(t, "license", "add", "--va", "Sales", "--type", "desktop", "--count", "20")
	img := Image(t, WithTrustedCA(mgr.caPEM))

	begin := time.Now()
	port := freePort(t)
	n1 := &clusterNode{v: Boot(t, img, withUUID("c1a57e20-0000-4000-8000-000000000001"), withLink(port, true)), addr: "10.0.4.1"}
	waitListening(t, port)
	n2 := &clusterNode{v: Boot(t, img, withUUID("c1a57e20-0000-4000-8000-000000000002"), withLink(port, false)), addr: "10.0.4.2"}
	nodes := []*clusterNode{n1, n2}
	for _, n := range nodes {
		n.v.WaitReady(t)
	}
	t.Logf("both ready %s after the first start", time.Since(begin).Round(time.Second))

	// Settings and reservations on both, then one restart each.
	const secret = "vxway cluster test secret"
	for _, n := range nodes {
		v := n.v
		waitSSH(t, v)
		st, _ := adminXAPI(t, v, "xstatus SystemUnit")
		n.serial = statusValue(t, st, "SystemUnit Hardware SerialNumber")
		for _, line := range []string{
			"xconfiguration Ethernet 2 IP V4 Address: " + n.addr,
			"xconfiguration Ethernet 2 IP V4 SubnetMask: 255.255.255.0",
			`xconfiguration Alternates Cluster Name: "cluster1"`,
			`xconfiguration Alternates Cluster Secret: "` + secret + `"`,
			"xconfiguration Alternates Cluster Lease: 20",
			"xconfiguration Alternates Peer 1 Address: " + n1.addr,
			"xconfiguration Alternates Peer 2 Address: " + n2.addr,
			"xconfiguration License Smart ReservationEnable: On",
		} {
			if out, ok := adminXAPI(t, v, line); !ok {
				t.Fatalf("%s:\n%s", line, out)
			}
		}
		cfg, _ := adminXAPI(t, v, "xconfiguration Alternates")
		if strings.Contains(cfg, secret) || !strings.Contains(cfg, `Secret: "(set)"`) {
			t.Errorf("the secret is shown back:\n%s", cfg)
		}
		out, _ := adminXAPI(t, v, "xcommand License Smart Reservation Request")
		req, ok := resultValue(out, "r", "License Smart Reservation RequestCode")
		if !ok {
			t.Fatalf("request:\n%s", out)
		}
		code := strings.TrimSpace(mgr.run(t, "reservation", "authorize", "--va", "Sales", "--request", req, "--license", "rms=10,desktop=10"))
		code = code[strings.LastIndex(code, "\n")+1:]
		out, _ = adminXAPI(t, v, fmt.Sprintf("xcommand License Smart Reservation Install %q", code))
		conf, ok := resultValue(out, "r", "License Smart Reservation ConfirmationCode")
		if !ok {
			t.Fatalf("install:\n%s", out)
		}
		mgr.run(t, "reservation", "confirm", "--va", "Sales", "--code", conf)
		v.Login(t, "root", DefaultRootPassword)
		v.Send(t, "reboot\r")
	}
	if n1.serial == n2.serial {
		t.Fatalf("both VMs have serial %s", n1.serial)
	}
	restart := time.Now()
	for _, n := range nodes {
		n.v.WaitReady(t)
		waitSSH(t, n.v)
	}
	t.Logf("both ready again %s after the restart", time.Since(restart).Round(time.Second))

	// Each sees the other Up (heartbeats every quarter lease).
	for i, n := range nodes {
		other := nodes[1-i]
		slot := strconv.Itoa(2 - i)
		waitStatus(t, n.v, "xstatus Alternates", "Alternates Peer "+slot+" State", "Up", time.Minute)
		st, _ := adminXAPI(t, n.v, "xstatus Alternates")
		if got := statusValue(t, st, "Alternates Peer "+slot+" Node"); got != other.serial {
			t.Errorf("node %d sees peer %s as %q, want %q:\n%s", i+1, slot, got, other.serial, st)
		}
		if got := statusValue(t, st, "Alternates Cluster Address"); got != n.addr+":4371" {
			t.Errorf("node %d listens on %q", i+1, got)
		}
	}

	// The document's example: ten sessions of node 1's own, the eleventh
	// borrowed from node 2.
	v1, v2 := n1.v, n2.v
	xok := func(v *VM, line string) time.Duration {
		t.Helper()
		start := time.Now()
		if out, ok := adminXAPI(t, v, line); !ok {
			t.Fatalf("%s:\n%s", line, out)
		}
		return time.Since(start)
	}
	xerr := func(v *VM, line string) string {
		t.Helper()
		out, ok := adminXAPI(t, v, line)
		if ok || !strings.Contains(out, "ERROR") {
			t.Errorf("%s: not refused:\n%s", line, out)
		}
		return out
	}
	own := xok(v1, "xcommand License Smart Usage Set Type: rms Count: 10")
	borrowed := xok(v1, "xcommand License Smart Usage Set Type: rms Count: 11")
	t.Logf("Usage Set over SSH (session, xAPI shell, agent): %s within the node's own licenses, %s with a borrow from the peer", own.Round(time.Millisecond), borrowed.Round(time.Millisecond))
	v1.Login(t, "root", DefaultRootPassword)
	if log := v1.Run(t, "grep 'cluster: borrowed' /data/log/smartagent.log"); log != "" {
		t.Logf("node 1's agent log: %s", log)
	}
	wantLicense(t, v1, "node 1 after the eleventh", 1, map[string]int{"Installed": 10, "InUse": 11, "Borrowed": 1, "Lent": 0})
	wantLicense(t, v2, "node 2 after node 1's eleventh", 1, map[string]int{"Installed": 10, "InUse": 0, "Borrowed": 0, "Lent": 1})
	xok(v1, "xcommand License Smart Usage Set Type: rms Count: 20")
	xerr(v1, "xcommand License Smart Usage Set Type: rms Count: 21")
	if out := xerr(v2, "xcommand License Smart Usage Set Type: rms Count: 1"); !strings.Contains(out, "lent") {
		t.Errorf("node 2's refusal does not say its RMS are lent:\n%s", out)
	}
	xok(v2, "xcommand License Smart Usage Set Type: desktop Count: 10")
	wantLicense(t, v1, "node 1 at twenty", 1, map[string]int{"InUse": 20, "Borrowed": 10})
	wantLicense(t, v2, "node 2 at twenty", 1, map[string]int{"Lent": 10})
	wantLicense(t, v2, "node 2's desktops", 3, map[string]int{"Installed": 10, "InUse": 10, "Borrowed": 0})
	if got := rmsStatus(t, v1); got != "Reserved" {
		t.Errorf("node 1's RMS status with ten borrowed: %q", got)
	}

	// Node 2 loses power: node 1 stops counting its ten within a lease.
	v2.Kill(t)
	killed := time.Now()
	waitStatus(t, v1, "xstatus License Smart License 1 Borrowed", "License Smart License 1 Borrowed", "0", time.Minute)
	t.Logf("node 1's borrowed licenses stopped counting %s after node 2 was killed (lease 20 s)", time.Since(killed).Round(time.Second))
	if got := rmsStatus(t, v1); got != "Over Reservation" {
		t.Errorf("node 1's RMS status without its lender: %q", got)
	}
	waitStatus(t, v1, "xstatus Alternates", "Alternates Peer 2 State", "Down", time.Minute)
	t.Logf("VM time %s", time.Since(begin).Round(time.Second))
}

// wantLicense checks counts of License i in xstatus License Smart.
func wantLicense(t *testing.T, v *VM, what string, i int, want map[string]int) {
	t.Helper()
	out, _ := adminXAPI(t, v, fmt.Sprintf("xstatus License Smart License %d", i))
	for k, n := range want {
		if got := statusValue(t, out, fmt.Sprintf("License Smart License %d %s", i, k)); got != strconv.Itoa(n) {
			t.Errorf("%s: %s %s, want %d:\n%s", what, k, got, n, out)
		}
	}
}

// waitStatus repeats line until path shows want.
func waitStatus(t *testing.T, v *VM, line, path, want string, timeout time.Duration) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Second) {
		out, _ = adminXAPI(t, v, line)
		if got, _ := resultValue(out, "s", path); got == want {
			return
		}
	}
	t.Fatalf("%s did not become %q in %s:\n%s", path, want, timeout, out)
}

// rmsStatus is the status of the first usage line (RMS, the only type in
// use on node 1).
func rmsStatus(t *testing.T, v *VM) string {
	t.Helper()
	st, _ := adminXAPI(t, v, "xstatus License Smart Usage 1 Status")
	return statusValue(t, st, "License Smart Usage 1 Status")
}
