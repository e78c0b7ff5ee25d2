package platform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"vxway/xapi"
	"vxway/xapi/xapitest"
)

// TestFIPSMode: turning FIPS 140 mode on is refused with the document's
// reason when export-controlled functionality is not allowed; allowed, it
// is saved and shown as configured, waiting for a restart, until the boot
// records it as applied.
func TestFIPSMode(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	clk := newTestClock()
	allowed := false
	var tree xapi.Tree
	RegisterXAPI(&tree, root, clk, Hooks{ExportControlAllowed: func(context.Context) (bool, error) { return allowed, nil }})

	out, err := xapitest.Serve(t, &tree, "xconfiguration SystemUnit FIPS140 Mode: On")
	if !errors.Is(err, ErrFIPSNotAllowed) || !strings.Contains(out, "FIPS140-2 Cryptographic Mode is not available") {
		t.Fatalf("not allowed: %v\n%s", err, out)
	}
	if c, _ := LoadFIPSConfig(root); c.Mode {
		t.Fatal("a refused FIPS 140 mode was saved")
	}
	if _, err := xapitest.Serve(t, &tree, "xconfiguration SystemUnit FIPS140 Mode: Maybe"); !errors.Is(err, ErrBadValue) {
		t.Errorf("Mode: Maybe = %v", err)
	}

	allowed = true
	out, err = xapitest.Serve(t, &tree, "xconfiguration SystemUnit FIPS140 Mode: On")
	if err != nil || !strings.Contains(out, "*c xConfiguration SystemUnit FIPS140 Mode: On") || !strings.Contains(out, "after a restart") {
		t.Fatalf("allowed: %v\n%s", err, out)
	}
	if c, _ := LoadFIPSConfig(root); !c.Mode {
		t.Fatal("FIPS 140 mode was not saved")
	}
	if out, _ := xapitest.Serve(t, &tree, "xconfiguration SystemUnit FIPS140"); !strings.Contains(out, "*c xConfiguration SystemUnit FIPS140 Mode: On") {
		t.Errorf("xconfiguration SystemUnit FIPS140:\n%s", out)
	}
	if err := SaveFIPSStatus(root, FIPSStatus{}); err != nil {
		t.Fatal(err)
	}
	out, _ = xapitest.Serve(t, &tree, "xstatus SystemUnit FIPS140")
	for _, want := range []string{`*s SystemUnit FIPS140 Mode: "Off"`, `*s SystemUnit FIPS140 Configured: "On"`, `*s SystemUnit FIPS140 RestartRequired: "Yes"`} {
		if !strings.Contains(out, want) {
			t.Errorf("before the restart, xstatus lacks %q:\n%s", want, out)
		}
	}
	if err := SaveFIPSStatus(root, FIPSStatus{Mode: true, Services: []string{"smartagent"}, Restricted: []string{"ssh", "https"}}); err != nil {
		t.Fatal(err)
	}
	out, _ = xapitest.Serve(t, &tree, "xstatus SystemUnit FIPS140")
	if !strings.Contains(out, `*s SystemUnit FIPS140 Mode: "On"`) || strings.Contains(out, "RestartRequired") || !strings.Contains(out, "smartagent") {
		t.Errorf("after the restart:\n%s", out)
	}
	// Off needs no licensing check.
	allowed = false
	if _, err := xapitest.Serve(t, &tree, "xconfiguration SystemUnit FIPS140 Mode: Off"); err != nil {
		t.Errorf("Mode: Off = %v", err)
	}
}

func TestLoadFIPSConfigStrict(t *testing.T) {
	root := t.TempDir()
	if c, err := LoadFIPSConfig(root); err != nil || c.Mode {
		t.Fatalf("no file: %+v, %v", c, err)
	}
	if err := writeFile(root+"/"+FIPSConfigPath, []byte(`{"mode": true, "colour": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFIPSConfig(root); err == nil {
		t.Error("an unknown field was accepted")
	}
}
