package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vxway/agent"
	"vxway/platform"
	"vxway/testsupport"
)

// usageSeen is the rms count the manager last received from instance udi.
func (m *manager) usageSeen(udi string) string {
	m.t.Helper()
	out := m.ok("instance", "show", udi)
	sm := regexp.MustCompile(`(?m)^Usage Rich Media Session:\s+(\d+)`).FindStringSubmatch(out)
	if sm == nil {
		m.t.Fatalf("no rms usage in:\n%s", out)
	}
	return sm[1]
}

// licensingAlarms lists the licensing alarms (300xx) raised on the device.
func (d *device) licensingAlarms() []string {
	d.t.Helper()
	ents, _ := os.ReadDir(filepath.Join(d.root, "data/alarms"))
	var ids []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "300") {
			ids = append(ids, strings.TrimSuffix(e.Name(), ".json"))
		}
	}
	return ids
}

// TestDormantOnVCS: a registered Expressway whose factory reset kept
// licensing but not brand and type (factory-reset -t without -v) is a
// VCS: its kept settings and registration are dormant (nothing reaches
// the manager, no licensing alarm, xstatus says so) until Service Select
// converts it back, which uses the registration again without a token.
func TestDormantOnVCS(t *testing.T) {
	m := newManager(t, "onprem")
	d := newDevice(t, filepath.Join(m.data, "ca.crt"), "https://127.0.0.1:1/unused")
	d.ok("xconfiguration License Smart Transport Mode: OnPrem")
	d.ok(fmt.Sprintf(`xconfiguration License Smart Transport URL: %q`, m.url()))
	d.ok(fmt.Sprintf(`xcommand License Smart Register Token: %q`, m.token("--va", "Sales", "--uses", "1")))
	d.ok("xcommand License Smart Usage Set Type: rms Count: 3")
	d.ok("xcommand License Smart UpdateUsage")
	if got := d.status("Authorization Status"); got != "Authorized" {
		t.Fatalf("registered: %q", got)
	}
	udi := d.status("InstanceId")

	// The manager goes down; usage rises to 4 and its report fails: the
	// retry is due at once when the agent starts again, and the alarms
	// are raised.
	m.stop()
	d.ok("xcommand License Smart Usage Set Type: rms Count: 4")
	d.fails("xcommand License Smart UpdateUsage", "connection refused")
	if !d.alarm(agent.AlarmCommError) {
		t.Fatal("alarm 30042 not raised with the manager down")
	}

	// factory-reset -t without -v: licensing kept, brand and type back
	// to VCS (the reset's own step), then the device boots again.
	d.stop()
	if err := platform.ResetServiceSelect(d.root); err != nil {
		t.Fatal(err)
	}
	m.start()
	d.start()
	for leaf, want := range map[string]string{"Enabled": "Off", "Dormant": "Yes", "Registration Status": "Registered", "Authorization Status": "Not Applicable",
		"VirtualAccount": "Sales", "InstanceId": udi} {
		if got := d.status(leaf); got != want {
			t.Errorf("VCS: %s %q, want %q", leaf, got, want)
		}
	}
	d.fails("xcommand License Smart RenewAuthorization", "xconfiguration SystemUnit ServiceSelect Brand: Expressway")
	d.fails("xcommand License Smart Deregister", "dormant")
	if got := d.licensingAlarms(); len(got) != 0 {
		t.Errorf("VCS: licensing alarms raised: %v", got)
	}
	if got := m.usageSeen(udi); got != "3" {
		t.Errorf("the dormant VCS reported usage %s to the manager", got)
	}

	// Converted back: the kept registration is used again, no token.
	out := d.ok("xconfiguration SystemUnit ServiceSelect Brand: Expressway")
	if !strings.Contains(out, `SmartLicensing: "On"`) {
		t.Errorf("conversion:\n%s", out)
	}
	if got := d.status("Authorization Status"); got != "Authorized" {
		t.Errorf("converted: authorization %q", got)
	}
	if got := d.status("Dormant"); got != "No" {
		t.Errorf("converted: dormant %q", got)
	}
	testsupport.Eventually(t, "the converted device to report its usage", func() bool { return m.usageSeen(udi) == "4" })
	if got := d.licensingAlarms(); len(got) != 0 {
		t.Errorf("converted: licensing alarms raised: %v", got)
	}
}
