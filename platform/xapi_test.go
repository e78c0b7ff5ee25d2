package platform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/xapi"
	"vxway/xapi/xapitest"
)

func TestXAPISystemUnitAndAlarms(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	writeSys(t, root, map[string]string{"class/dmi/id/product_uuid": "4c4c4544-0042-3510-8056-b4c04f4e3132\n"})
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/uptime"), []byte("3725.41 7000.00\n"), 0o644)
	clk := newTestClock()
	if err := Boot(root, clk); err != nil {
		t.Fatal(err)
	}
	id, _ := LoadIdentity(root, clk)
	var tree xapi.Tree
	RegisterXAPI(&tree, root, clk, Hooks{})

	out, err := xapitest.Serve(t, &tree, "xstatus SystemUnit")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`*s SystemUnit Product: "Cisco Expressway"`,
		`*s SystemUnit ProductBrand: "Expressway"`,
		`*s SystemUnit ProductType: "Expressway-C"`,
		`*s SystemUnit Hardware SerialNumber: "` + id.Serial + `"`,
		`*s SystemUnit Hardware UDI: "UDI_PID:Expressway; UDI_SN:` + id.Serial + `; UDI_VID:1.0;"`,
		`*s SystemUnit Software Version: "X14.2.0"`,
		`*s SystemUnit Uptime: 3725`,
		`*s SystemUnit Hostname: "expe01"`,
		"\nOK\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("xstatus SystemUnit lacks %q:\n%s", want, out)
		}
	}
	if out, _ := xapitest.Serve(t, &tree, "xstatus SystemUnit Uptime"); out != "*s SystemUnit Uptime: 3725\nOK\n" {
		t.Errorf("leaf query:\n%s", out)
	}
	if out, err := xapitest.Serve(t, &tree, "xstatus SystemUnit Nope"); err == nil || !strings.HasSuffix(out, "ERROR\n") {
		t.Errorf("unknown leaf:\n%s", out)
	}

	out, err = xapitest.Serve(t, &tree, "xstatus Alarm")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*s Alarm 1 Id: 40003\n", "*s Alarm 2 Id: 40005\n", `*s Alarm 1 Severity: "Critical"`, `*s Alarm 1 Raised: "2026-03-01T10:00:00Z"`} {
		if !strings.Contains(out, want) {
			t.Errorf("xstatus Alarm lacks %q:\n%s", want, out)
		}
	}
}

func TestXAPIServiceSelect(t *testing.T) {
	root := newTestRoot(t, "VCS")
	var tree xapi.Tree
	RegisterXAPI(&tree, root, newTestClock(), Hooks{})
	for _, c := range []struct {
		line, want string
		fail       bool
	}{
		{"xconfiguration SystemUnit", "*c xConfiguration SystemUnit ServiceSelect Brand: VCS\n", false},
		{"xconfiguration SystemUnit ServiceSelect Type: Expressway-E", "*c xConfiguration SystemUnit ServiceSelect Type: Expressway-E\nOK\n", false},
		{"xconfiguration SystemUnit ServiceSelect Type: Expressway-Q", "use Expressway-C or Expressway-E", true},
		{"xconfiguration SystemUnit Hostname: vcs-edge", "*c xConfiguration SystemUnit Hostname: vcs-edge\nOK\n", false},
		{"xconfiguration SystemUnit Hostname: \"bad name\"", "letters, digits", true},
		{"xconfiguration SystemUnit Domain: example.com", "*c xConfiguration SystemUnit Domain: example.com\nOK\n", false},
		{"xconfiguration SystemUnit ServiceSelect Brand: Expressway", "*r SmartLicensing: \"On\"\nOK\n", false},
		{"xconfiguration SystemUnit ServiceSelect Brand: VCS", "factory reset", true},
		{"xconfiguration SystemUnit ServiceSelect", "*c xConfiguration SystemUnit ServiceSelect Brand: Expressway\n*c xConfiguration SystemUnit ServiceSelect Type: Expressway-E\nOK\n", false},
		{"xconfiguration SystemUnit Serial: 1234", "cannot be set", true},
	} {
		t.Run(c.line, func(t *testing.T) {
			out, err := xapitest.Serve(t, &tree, c.line)
			if (err != nil) != c.fail || !strings.Contains(out, c.want) {
				t.Errorf("got err %v:\n%s\nwant fail=%v and %q", err, out, c.fail, c.want)
			}
		})
	}
}

func TestXAPIConversionTellsAgent(t *testing.T) {
	for _, c := range []struct {
		name     string
		hookErr  error
		wantWarn bool
	}{
		{"agent answers", nil, false},
		{"agent down", errors.New("agent down"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newTestRoot(t, "VCS")
			calls := 0
			var tree xapi.Tree
			RegisterXAPI(&tree, root, newTestClock(), Hooks{SmartLicensingEnabled: func(context.Context) error {
				calls++
				return c.hookErr
			}})
			for i, line := range []string{
				"xconfiguration SystemUnit ServiceSelect Brand: VCS",
				"xconfiguration SystemUnit ServiceSelect Brand: Expressway",
				"xconfiguration SystemUnit ServiceSelect Brand: Expressway",
				"xconfiguration SystemUnit ServiceSelect Brand: VCS",
			} {
				out, _ := xapitest.Serve(t, &tree, line)
				if want := c.wantWarn && i == 1; strings.Contains(out, "*r Warning:") != want {
					t.Errorf("%s:\n%s", line, out)
				}
			}
			if calls != 1 {
				t.Errorf("the agent was told %d times, want once", calls)
			}
		})
	}
}

func TestBootID(t *testing.T) {
	for _, tc := range []struct {
		name, content string // content "-" means no file
		want          string
		err           error
	}{
		{"present", "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b\n", "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b", nil},
		{"missing", "-", "", os.ErrNotExist},
		{"empty", " \n", "", ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.content != "-" {
				p := filepath.Join(root, BootIDPath)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.content), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			got, err := BootID(root)
			if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("BootID = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
