package netconf

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"vxway/netsettings"

	"github.com/vishvananda/netlink"

	"vxway/testsupport"
)

// TestUpInNetworkNamespace runs Up for real: netlink and the DHCP client
// against dnsmasq, in a private network namespace whose only link is a veth
// pair numbered like QEMU's user network (the device's eth0 gets
// 10.0.2.15, the server is 10.0.2.2, DNS 10.0.2.3). Nothing leaves the
// namespace. The test re-runs itself under `unshare --net`.
func TestUpInNetworkNamespace(t *testing.T) {
	if os.Getenv("NETCONF_IN_NETNS") == "" {
		unshare, err1 := exec.LookPath("unshare")
		_, err2 := exec.LookPath("dnsmasq")
		if err1 != nil || err2 != nil || os.Geteuid() != 0 {
			t.Skip("needs root, unshare and dnsmasq (Debian dnsmasq-base)")
		}
		cmd := exec.Command(unshare, "--net", "--", os.Args[0], "-test.run=^TestUpInNetworkNamespace$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "NETCONF_IN_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "unshare failed") {
				t.Skipf("no private network namespace here: %s", out)
			}
			t.Fatalf("in a network namespace: %v\n%s", err, out)
		}
		t.Logf("in a network namespace:\n%s", out)
		return
	}
	la := netlink.NewLinkAttrs()
	la.Name = "eth0"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "dhcpsrv"}); err != nil {
		t.Fatal(err)
	}
	srv, err := netlink.LinkByName("dhcpsrv")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.0.2.2/24")
	if err := netlink.AddrAdd(srv, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(srv); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dnsmasq := exec.Command("dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null",
		"--interface=dhcpsrv", "--bind-interfaces", "--port=0", "--user=root", "--no-ping",
		"--dhcp-range=10.0.2.15,10.0.2.15,255.255.255.0,1h",
		"--dhcp-option=option:router,10.0.2.2", "--dhcp-option=option:dns-server,10.0.2.3",
		"--dhcp-option=option:domain-name,qemu.test",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file="+filepath.Join(dir, "pid"))
	var dlog testsupport.SyncBuffer
	dnsmasq.Stdout, dnsmasq.Stderr = &dlog, &dlog
	if err := dnsmasq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dnsmasq.Process.Kill()
		dnsmasq.Wait()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", dlog.String())
		}
	})

	root := filepath.Join(dir, "root")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log testsupport.SyncBuffer
	if err := Up(ctx, root, &log); err != nil {
		t.Fatalf("Up: %v\n%s", err, log.String())
	}
	defer func() { t.Logf("netconf log:\n%s", log.String()) }()
	testsupport.Eventually(t, "the DHCP lease", func() bool { st, _ := ReadStatus(root); return st.State == StateUp })
	st, _ := ReadStatus(root)
	if st.Address != "10.0.2.15/24" || st.Gateway != "10.0.2.2" || st.DNSServers[0] != "10.0.2.3" || st.SearchDomain != "qemu.test" || st.DHCPServer != "10.0.2.2" {
		t.Errorf("status after DHCP: %+v", st)
	}
	checkKernel(t, "10.0.2.15/24", "10.0.2.2")
	if lo, err := netlink.LinkByName("lo"); err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is not up: %v", err)
	}
	resolv, _ := os.ReadFile(filepath.Join(root, ResolvPath))
	if !strings.Contains(string(resolv), "search qemu.test\nnameserver 10.0.2.3\n") {
		t.Errorf("resolv.conf:\n%s", resolv)
	}

	// Static, applied live.
	static := netsettings.Config{Address: "10.0.2.20", PrefixLength: 24, Gateway: "10.0.2.2", DNSServers: []string{"10.0.2.2"}}
	if err := netsettings.Save(root, static); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, "the static address", func() bool { st, _ := ReadStatus(root); return st.ConfigHash == static.Hash() })
	checkKernel(t, "10.0.2.20/24", "10.0.2.2")
	// Back to DHCP.
	if err := netsettings.Save(root, netsettings.Default()); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, "a new lease", func() bool {
		st, _ := ReadStatus(root)
		return st.ConfigHash == netsettings.Default().Hash() && st.State == StateUp
	})
	checkKernel(t, "10.0.2.15/24", "10.0.2.2")
}

// checkKernel reads eth0's IPv4 addresses and default route back from the
// kernel.
func checkKernel(t *testing.T, addr, gw string) {
	t.Helper()
	l, err := netlink.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != addr {
		t.Errorf("eth0 addresses %v, want only %s", addrs, addr)
	}
	routes, err := netlink.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var gws []string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			gws = append(gws, r.Gw.String())
		}
	}
	if len(gws) != 1 || gws[0] != gw {
		t.Errorf("default routes via %v, want %s", gws, gw)
	}
}
