package netconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/netsettings"
	"vxway/xapi"
	"vxway/xapi/xapitest"
)

// TestEthernet1Synonym: Ethernet 1 IP V4 Address and SubnetMask set and
// show today's IP Address and PrefixLength; bad values are refused and
// change nothing.
func TestEthernet1Synonym(t *testing.T) {
	root := t.TempDir()
	tree := xapi.Tree{}
	h := &handlers{root: root, wait: 10 * time.Millisecond}
	tree.Handle(xapi.Configuration, "IP", h.locked(h.ip))
	tree.Handle(xapi.Configuration, "Ethernet 1", h.locked(h.ethernet1))
	for _, line := range []string{
		"xconfiguration Ethernet 1 IP V4 Address: 10.0.2.15",
		"xconfiguration Ethernet 1 IP V4 SubnetMask: 255.255.0.0",
	} {
		if got, err := xapitest.Serve(t, &tree, line); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, got)
		}
	}
	got, err := xapitest.Serve(t, &tree, "xconfiguration IP")
	if err != nil || !strings.Contains(got, "IP Address: 10.0.2.15") || !strings.Contains(got, "IP PrefixLength: 16") {
		t.Fatalf("xconfiguration IP: %v\n%s", err, got)
	}
	got, err = xapitest.Serve(t, &tree, "xconfiguration Ethernet 1")
	if err != nil || !strings.Contains(got, "Ethernet 1 IP V4 Address: 10.0.2.15") || !strings.Contains(got, "Ethernet 1 IP V4 SubnetMask: 255.255.0.0") {
		t.Fatalf("xconfiguration Ethernet 1: %v\n%s", err, got)
	}
	before, err := os.ReadFile(filepath.Join(root, netsettings.ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"xconfiguration Ethernet 1 IP V4 SubnetMask: 255.0.255.0",
		"xconfiguration Ethernet 1 IP V4 SubnetMask: 0.0.0.0",
		"xconfiguration Ethernet 1 IP V4 Address: 10.0.2.16/24",
		"xconfiguration Ethernet 1 IP V4 Address: not-an-address",
		"xconfiguration Ethernet 1 IP V4 Gateway: 10.0.2.2",
		"xconfiguration Ethernet 1 IP V6 Address: ::1",
	} {
		t.Run(line, func(t *testing.T) {
			if got, err := xapitest.Serve(t, &tree, line); err == nil {
				t.Errorf("accepted:\n%s", got)
			}
			after, err := os.ReadFile(filepath.Join(root, netsettings.ConfigPath))
			if err != nil || string(after) != string(before) {
				t.Errorf("a refused change wrote network.json: %v", err)
			}
		})
	}
}
