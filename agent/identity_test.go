package agent

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"vxway/clock"
)

func writeRootFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeviceUDI: the agent registers with the platform's identity and the
// current brand's UDI, and derives a serial from its key only when the
// platform has no identity on persist.
func TestDeviceUDI(t *testing.T) {
	const identity = `{"serial":"0A1B2C3D","host_id":"0badcafe","source":"random","derived":"2026-01-01T00:00:00Z"}`
	const expressway = `{"hostname":"expe01","brand":"Expressway","type":"Expressway-C","smart_licensing_enabled":true}`
	const vcs = `{"hostname":"vcs01","brand":"VCS","type":"Expressway-C"}`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  *regexp.Regexp
	}{
		{"expressway", map[string]string{"persist/identity.json": identity, "data/config/system.json": expressway},
			regexp.MustCompile(`^UDI_PID:Expressway; UDI_SN:0A1B2C3D; UDI_VID:1\.0;$`)},
		{"vcs", map[string]string{"persist/identity.json": identity, "data/config/system.json": vcs},
			regexp.MustCompile(`^UDI_PID:VCS; UDI_SN:0A1B2C3D; UDI_VID:1\.0;$`)},
		{"no identity on persist", map[string]string{"data/config/system.json": expressway},
			regexp.MustCompile(`^UDI_PID:Expressway; UDI_SN:[0-9A-F]{8}; UDI_VID:1\.0;$`)},
		{"identity in another format", map[string]string{"persist/identity.json": `{"sn":"0A1B2C3D"}`, "data/config/system.json": expressway},
			regexp.MustCompile(`^UDI_PID:Expressway; UDI_SN:[0-9A-F]{8}; UDI_VID:1\.0;$`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeRootFiles(t, root, tc.files)
			clk := clock.NewFake(t0)
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
			if got := a.Status().InstanceID; !tc.want.MatchString(got) {
				t.Errorf("registered as %q, want %s", got, tc.want)
			}
			if _, err := os.Stat(filepath.Join(root, "persist/identity.json")); tc.files["persist/identity.json"] == "" && err == nil {
				t.Error("the agent wrote an identity to persist")
			}
		})
	}
}

func TestSystemHostname(t *testing.T) {
	root := t.TempDir()
	writeRootFiles(t, root, map[string]string{"data/config/system.json": `{"hostname":"expe01","domain":"example.com","brand":"Expressway","type":"Expressway-C","smart_licensing_enabled":true}`})
	if got := systemHostname(root); got != "expe01.example.com" {
		t.Errorf("systemHostname = %q, want expe01.example.com", got)
	}
}
