package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"vxway/testsupport"
)

// alternate reads one xstatus Alternates leaf.
func (d *device) alternate(leaf string) string {
	d.t.Helper()
	out := d.ok("xstatus Alternates " + leaf)
	m := regexp.MustCompile(`(?m)^\*s Alternates ` + regexp.QuoteMeta(leaf) + `: "?(.*?)"?$`).FindStringSubmatch(out)
	if m == nil {
		d.t.Fatalf("xstatus Alternates %s:\n%s", leaf, out)
	}
	return m[1]
}

// TestClusterUsageReportedOnce runs two registered agents as real
// processes with the real manager, clustered on loopback: node 1, whose
// manager authorized 10 RMS, carries 20 with 10 borrowed from node 2,
// and reports 10, as the vendor document's example says; node 2 reports
// the 10 it lends; the manager sees 20 in all, each license once.
func TestClusterUsageReportedOnce(t *testing.T) {
	m := newManager(t, "onprem")
	m.ok("license", "add", "--va", "Sales", "--type", "rms", "--count", "15")
	addr1, addr2 := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var ds []*device
	var udis []string
	for _, addr := range []string{addr1, addr2} {
		d := newDevice(t, filepath.Join(m.data, "ca.crt"), "https://127.0.0.1:1/unused", "--cluster-listen", addr)
		d.ok("xconfiguration License Smart Transport Mode: OnPrem")
		d.ok(fmt.Sprintf(`xconfiguration License Smart Transport URL: %q`, m.url()))
		d.ok(fmt.Sprintf(`xcommand License Smart Register Token: %q`, m.token("--va", "Sales", "--uses", "1")))
		// The manager authorizes 10 for each: their installed count.
		d.ok("xcommand License Smart Usage Set Type: rms Count: 10")
		d.ok("xcommand License Smart UpdateUsage")
		if got := d.status("License 1 Installed"); got != "10" {
			t.Fatalf("installed after the authorization: %s", got)
		}
		for _, line := range []string{
			`xconfiguration Alternates Cluster Name: "cluster1"`,
			`xconfiguration Alternates Cluster Secret: "a secret of twenty chars"`,
			// Heartbeats every 2 s: node 1 sees node 2 soon after it starts.
			"xconfiguration Alternates Cluster Lease: 8",
			`xconfiguration Alternates Peer 1 Address: "` + addr1 + `"`,
			`xconfiguration Alternates Peer 2 Address: "` + addr2 + `"`,
		} {
			d.ok(line)
		}
		ds, udis = append(ds, d), append(udis, d.status("InstanceId"))
	}
	d1, d2 := ds[0], ds[1]
	d2.ok("xcommand License Smart Usage Set Type: rms Count: 0")
	testsupport.Eventually(t, "the peers to see each other", func() bool {
		return d1.alternate("Peer 2 State") == "Up" && d2.alternate("Peer 1 State") == "Up"
	})
	d1.ok("xcommand License Smart Usage Set Type: rms Count: 20")
	testsupport.Eventually(t, "node 1 to borrow 10", func() bool {
		return d1.status("License 1 Borrowed") == "10" && d2.status("License 1 Lent") == "10"
	})
	for i, d := range ds {
		d.ok("xcommand License Smart UpdateUsage")
		if got := m.usageSeen(udis[i]); got != "10" {
			t.Errorf("node %d reported %s RMS, want 10", i+1, got)
		}
	}
	if got := d1.status("Authorization Status"); got != "Authorized" {
		t.Errorf("node 1: %s", got)
	}
}
