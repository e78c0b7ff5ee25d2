package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/platform"
)

// expresswayRoot is a device root whose brand is Expressway, so Smart
// Licensing is on for the platform and the agent may be enabled.
func expresswayRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	sc := platform.SystemConfig{Hostname: "expe01", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}
	if err := platform.SaveSystemConfig(root, sc); err != nil {
		t.Fatal(err)
	}
	return root
}

// vcsRoot is a device root whose brand is VCS: option keys, Smart
// Licensing off.
func vcsRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	sc := platform.SystemConfig{Hostname: "vcs01", Brand: platform.BrandVCS, Type: platform.TypeC}
	if err := platform.SaveSystemConfig(root, sc); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestEnableNeedsExpressway: on a VCS, Enable is refused with a reason
// naming Service Select and leaves no evaluation anchor and no key; on an
// Expressway it turns Smart Licensing on.
func TestEnableNeedsExpressway(t *testing.T) {
	for _, tc := range []struct {
		name string
		root func(testing.TB) string
		ok   bool
	}{
		{"vcs", vcsRoot, false},
		{"expressway", expresswayRoot, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root(t)
			clk := clock.NewFake(t0)
			a := newTestAgent(t, root, clk, newMemManager(clk))
			err := a.Enable()
			if tc.ok {
				if err != nil || !a.Status().Enabled {
					t.Fatalf("Enable on an Expressway: %v, enabled %v", err, a.Status().Enabled)
				}
				return
			}
			if !errors.Is(err, agentclient.ErrServiceSelect) || !strings.Contains(err.Error(), "ServiceSelect Brand: Expressway") {
				t.Fatalf("Enable on a VCS: %v, want a refusal naming Service Select", err)
			}
			for _, f := range []string{anchorFile, keyFile} {
				if _, err := os.Stat(filepath.Join(root, f)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the refused enable wrote %s: %v", f, err)
				}
			}
			if s := a.Status(); s.Enabled || !s.EvaluationStart.IsZero() {
				t.Errorf("after the refusal: enabled %v, evaluation start %s", s.Enabled, s.EvaluationStart)
			}
		})
	}
}
