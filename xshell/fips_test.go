package xshell

import (
	"context"
	"strings"
	"testing"

	"vxway/clock"
	"vxway/platform"
	"vxway/testsupport"
	"vxway/xapi"
)

// TestFIPSNeedsTheLicensingAnswer: on a VCS (option keys) FIPS 140 mode
// needs no licensing check; on an Expressway whose licensing agent cannot
// be asked the mode is left unchanged with the reason.
func TestFIPSNeedsTheLicensingAnswer(t *testing.T) {
	for _, tc := range []struct {
		brand string
		ok    bool
	}{
		{"VCS", true},
		{"Expressway", false},
	} {
		t.Run(tc.brand, func(t *testing.T) {
			root := testsupport.DeviceRoot(t, testsupport.ImageInfo(t, tc.brand))
			tree := NewTree(root, clock.Real{})
			req, err := xapi.ParseLine("xconfiguration SystemUnit FIPS140 Mode: On")
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			err = tree.Serve(context.Background(), req, xapi.NewWriter(&out))
			if (err == nil) != tc.ok {
				t.Fatalf("answer %v:\n%s", err, out.String())
			}
			cfg, _ := platform.LoadFIPSConfig(root)
			if cfg.Mode != tc.ok {
				t.Errorf("FIPS 140 mode saved: %v", cfg.Mode)
			}
			if !tc.ok && !strings.Contains(out.String(), "export-controlled functionality") {
				t.Errorf("reason:\n%s", out.String())
			}
		})
	}
}
