package firstboot_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"vxway/vm"

	"vxway/clock"
	"vxway/firstboot"
	"vxway/xapi"
	"vxway/xshell"
)

// TestBadSeedThroughTheAdminShell applies a bad seed and reads the outcome
// the way the administrator does: xstatus Alarm and xstatus Provisioning
// on the device's xAPI tree.
func TestBadSeedThroughTheAdminShell(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"sys/class/block/vdb", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	seed := "version = 1\ninstance_id = \"site-z\"\n[network]\ndns_servers = [\"not-an-ip\"]\n"
	if err := vm.WriteSeedDisk(filepath.Join(root, "dev/vdb"), []byte(seed)); err != nil {
		t.Fatal(err)
	}
	var console bytes.Buffer
	if err := firstboot.Apply(context.Background(), root, &console); err == nil {
		t.Fatalf("a bad seed applied:\n%s", console.String())
	}
	if !strings.Contains(console.String(), `line 4: network.dns_servers: element 1: "not-an-ip" is not an IP address`) {
		t.Errorf("console:\n%s", console.String())
	}
	tree := xshell.NewTree(root, clock.Real{})
	for line, want := range map[string][]string{
		"xstatus Alarm":        {"45001", "Provisioning seed rejected"},
		"xstatus Provisioning": {`*s Provisioning Status: "NotProvisioned"`, `*s Provisioning Result: "Rejected"`, `*s Provisioning Last InstanceId: "site-z"`},
	} {
		req, err := xapi.ParseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := tree.Serve(context.Background(), req, xapi.NewWriter(&out)); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out.String())
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s lacks %q:\n%s", line, w, out.String())
			}
		}
	}
}
