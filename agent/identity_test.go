package agent

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"vxway/clock"
	"vxway/platform"
)

// TestDeviceUDI: the agent registers with the platform's identity and the
// current brand's UDI, and derives a serial from its key only when the
// platform has no identity on persist.
func TestDeviceUDI(t *testing.T) {
	anySerial := regexp.MustCompile(`^UDI_PID:Expressway; UDI_SN:[0-9A-F]{8}; UDI_VID:1\.0;$`)
	for _, tc := range []struct {
		name     string
		brand    platform.Brand
		identity bool
	}{
		{"expressway", platform.BrandExpressway, true},
		{"no identity on persist", platform.BrandExpressway, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			clk := clock.NewFake(t0)
			sc := platform.SystemConfig{Hostname: "expe01", Brand: tc.brand, Type: platform.TypeC, SmartLicensingEnabled: tc.brand == platform.BrandExpressway}
			if err := platform.SaveSystemConfig(root, sc); err != nil {
				t.Fatal(err)
			}
			var id platform.Identity
			if tc.identity {
				var err error
				if id, err = platform.LoadIdentity(root, clk); err != nil {
					t.Fatal(err)
				}
			}
			m := newMemManager(clk)
			m.tokens["t"] = memToken{va: "Sales"}
			a := newTestAgent(t, root, clk, m)
			if err := a.Enable(); err != nil {
				t.Fatal(err)
			}
			if err := a.Register("t", false); err != nil {
				t.Fatal(err)
			}
			// The manager knows the instance by the UDI it registered with.
			got := a.Status().InstanceID
			if tc.identity && got != id.UDI(tc.brand) {
				t.Errorf("registered as %q, want %q", got, id.UDI(tc.brand))
			}
			if !tc.identity {
				if !anySerial.MatchString(got) {
					t.Errorf("registered as %q, want a UDI with a serial from the key", got)
				}
				if _, err := os.Stat(filepath.Join(root, platform.IdentityPath)); err == nil {
					t.Error("the agent wrote an identity to persist")
				}
			}
		})
	}
}

func TestSystemHostname(t *testing.T) {
	root := t.TempDir()
	sc := platform.SystemConfig{Hostname: "expe01", Domain: "example.com", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}
	if err := platform.SaveSystemConfig(root, sc); err != nil {
		t.Fatal(err)
	}
	if got := systemHostname(root); got != "expe01.example.com" {
		t.Errorf("systemHostname = %q, want expe01.example.com", got)
	}
}
