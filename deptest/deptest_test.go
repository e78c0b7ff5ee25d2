package deptest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/rootfs"
)

// Host-side packages: the image builder, the VM runner, the build
// configuration, the license manager and the demo vendor signing key.
var hostOnly = []string{
	"vxway/image/...",
	"vxway/rootfs/...",
	"vxway/appconfig/...",
	"vxway/vm/...",
	"vxway/ssm/...",
	"vxway/platform/vendorkey",
	"vxway/deptest",
	"github.com/diskfs/go-diskfs/...",
}

// Device-side packages the manager must not link.
var deviceOnly = []string{
	"vxway/agent/...",
	"vxway/agentclient",
	"vxway/boot",
	"vxway/cluster",
	"vxway/factoryreset/...",
	"vxway/firstboot/...",
	"vxway/login",
	"vxway/netconf",
	"vxway/netsettings",
	"vxway/platform/...",
	"vxway/sipclient",
	"vxway/sipsvc",
	"vxway/supervise",
	"vxway/sysclient",
	"vxway/syssvc",
	"vxway/peercred",
	"vxway/upgrade",
	"vxway/webui",
	"vxway/xshell",
}

const deviceRuleWhy = "a device program links no host-side package"

func rules() []Rule {
	device := []string{"vxway/cmd/init", "vxway/cmd/smartagent", "vxway/cmd/xcli", "vxway/cmd/factory-reset", "vxway/cmd/sipserver"}
	var rs []Rule
	for _, p := range device {
		rs = append(rs, Rule{Program: p, Forbidden: hostOnly, Why: deviceRuleWhy})
	}
	for _, p := range []string{"vxway/cmd/init", "vxway/cmd/xcli", "vxway/cmd/factory-reset", "vxway/cmd/sipserver"} {
		rs = append(rs, Rule{Program: p, Forbidden: []string{"vxway/agent/..."},
			Why: "only smartagent runs the licensing daemon; the others talk to it through agentclient"})
		rs = append(rs, Rule{Program: p, Forbidden: []string{"vxway/cluster"},
			Why: "only smartagent runs the cluster member; the others read its state through agentclient"})
	}
	rs = append(rs,
		Rule{Program: "vxway/cmd/sipserver", Forbidden: []string{"github.com/urfave/cli/...", "vxway/webui"},
			Why: "the SIP service starts at every boot and reads the server certificate through its path alone"},
		Rule{Program: "vxway/cmd/smartagent", Forbidden: []string{"github.com/urfave/cli/...", "vxway/sipsvc", "github.com/emiago/sipgo/..."},
			Why: "urfave/cli's start-up cost is paid on every boot, and the agent links no SIP stack"},
		Rule{Program: "vxway/cmd/vxway", Forbidden: []string{"vxway/agent/...", "vxway/netconf", "vxway/upgrade", "github.com/vishvananda/netlink/...", "github.com/insomniacslk/dhcp/..."},
			Why: "the host tool links no device daemon"},
		Rule{Program: "vxway/cmd/xcli", Forbidden: []string{"vxway/sipsvc", "github.com/emiago/sipgo/..."},
			Why: "the admin CLI talks to the SIP service through sipclient"},
		Rule{Program: "vxway/cmd/ssm", Forbidden: deviceOnly, Why: "the manager links no device package"},
		Rule{Program: "vxway/cmd/xcli", Forbidden: []string{"vxway/syssvc"},
			Why: "the admin CLI asks init's system service through sysclient; only init serves it"},
		Rule{Program: "vxway/cmd/smartagent", Forbidden: []string{"vxway/syssvc", "vxway/sysclient"},
			Why: "the agent neither serves nor asks for root's operations"},
	)
	return rs
}

func TestBoundaries(t *testing.T) {
	vs, err := Check("..", "", rules())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
}

// TestForbiddenImportFails adds a forbidden import to smartagent through a
// go list overlay and checks that the rules catch it, with its chain.
func TestForbiddenImportFails(t *testing.T) {
	dir := t.TempDir()
	extra := filepath.Join(dir, "extra.go")
	if err := os.WriteFile(extra, []byte("package main\n\nimport _ \"vxway/ssm\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	target, err := filepath.Abs("../cmd/smartagent/zz_forbidden.go")
	if err != nil {
		t.Fatal(err)
	}
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {target: extra}})
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	vs, err := Check("..", overlay, rules())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vs {
		if v.Program == "vxway/cmd/smartagent" && v.Package == "vxway/ssm" {
			found = true
			if got := strings.Join(v.Chain, " -> "); got != "vxway/cmd/smartagent -> vxway/ssm" {
				t.Errorf("chain = %s", got)
			}
		}
	}
	if !found {
		t.Fatalf("an import of vxway/ssm into smartagent was not caught; violations: %v", vs)
	}
}

func TestForbiddenMatches(t *testing.T) {
	for _, tt := range []struct {
		pkg  string
		want bool
	}{
		{"vxway/ssm", true},
		{"vxway/ssm/pgtest", true},
		{"vxway/ssmx", false},
		{"vxway/platform/vendorkey", true},
		{"vxway/platform", false},
		{"github.com/diskfs/go-diskfs/disk", true},
	} {
		if got := forbidden(tt.pkg, hostOnly); got != tt.want {
			t.Errorf("forbidden(%q) = %v, want %v", tt.pkg, got, tt.want)
		}
	}
}

// TestDeviceProgramsCovered checks that every program the image carries
// is held to the device rules. The programs are one binary on the device
// (rootfs.BuildMulticall), but each stays its own main package: these
// rules are about the code each program calls, which the combined binary
// does not change.
func TestDeviceProgramsCovered(t *testing.T) {
	covered := map[string]bool{}
	for _, r := range rules() {
		if r.Why == deviceRuleWhy {
			covered[r.Program] = true
		}
	}
	for _, p := range rootfs.DevicePrograms() {
		if !covered["vxway/"+p.Pkg] {
			t.Errorf("device program %s is in the image but not under the device rules: add it to rules()", p.Pkg)
		}
	}
}
