package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/platform"
)

// deviceRoot is an Expressway root whose persist holds the identity with
// the given serial.
func deviceRoot(t *testing.T, serial string) string {
	t.Helper()
	root := t.TempDir()
	sc := platform.SystemConfig{Hostname: "expe01", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}
	if err := platform.SaveSystemConfig(root, sc); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf(`{"serial": %q, "host_id": "0a0b0c0d", "source": "mac"}`, serial)
	if err := os.MkdirAll(filepath.Join(root, "persist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, platform.IdentityPath), []byte(id), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func writeBackupFiles(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := writeFile(root, filepath.Join(StateDir, name), b); err != nil {
			t.Fatal(err)
		}
	}
}

// The agent's files from a backup: put back on the device that made them,
// the registration is there again; on another device the settings come
// back, the registration, its key and the reservation codes do not, and
// the device says to register with a token.
func TestBackupFilesOnSameAndOtherDevice(t *testing.T) {
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	m.tokens["t"] = memToken{va: "Sales"}
	src := deviceRoot(t, "0A0A0A0A")
	a := newTestAgent(t, src, clk, m)
	if _, err := a.SetConfig(agentclient.LeafMode, "OnPrem"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetConfig(agentclient.LeafURL, "https://ssm.example.test/SmartTransport"); err != nil {
		t.Fatal(err)
	}
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("t", false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetCluster(agentclient.LeafClusterName, "cluster1"); err != nil {
		t.Fatal(err)
	}
	files, err := a.BackupFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range backupFiles {
		if len(files[name]) == 0 {
			t.Fatalf("the backup lacks %s: %v", name, files)
		}
	}
	if err := CheckBackupFiles(files); err != nil {
		t.Fatalf("the agent's own files do not check: %v", err)
	}
	deregs := m.count("deregister")

	t.Run("same device", func(t *testing.T) {
		root := deviceRoot(t, "0A0A0A0A")
		writeBackupFiles(t, root, files)
		b := newTestAgent(t, root, clk, m)
		st := b.Status()
		if st.Registration != agentclient.RegRegistered || st.Warning != "" {
			t.Errorf("registration %q, warning %q; want Registered without a warning", st.Registration, st.Warning)
		}
	})
	t.Run("other device", func(t *testing.T) {
		root := deviceRoot(t, "0B0B0B0B")
		writeBackupFiles(t, root, files)
		b := newTestAgent(t, root, clk, m)
		st := b.Status()
		if st.Registration != agentclient.RegUnregistered {
			t.Errorf("registration %q, want %q", st.Registration, agentclient.RegUnregistered)
		}
		if !strings.Contains(st.Warning, "0A0A0A0A") || !strings.Contains(st.Warning, "new token") {
			t.Errorf("warning %q does not name the other device and the token", st.Warning)
		}
		if cfg := b.Config(); cfg.Mode != agentclient.OnPrem || cfg.URL != "https://ssm.example.test/SmartTransport" {
			t.Errorf("transport %+v was not restored", cfg)
		}
		key, err := os.ReadFile(filepath.Join(root, keyFile))
		if err != nil {
			t.Fatal(err)
		}
		if string(key) == string(files["device.key"]) {
			t.Error("the other device kept the first device's identity key")
		}
		saved, err := loadState(root)
		if err != nil || saved.Serial != "0B0B0B0B" || saved.Registration != nil {
			t.Errorf("saved state: serial %q, registration %v, %v", saved.Serial, saved.Registration, err)
		}
		// Registering the other device with a token clears the warning.
		m.tokens["t2"] = memToken{va: "Sales"}
		if err := b.Register("t2", false); err != nil {
			t.Fatal(err)
		}
		if st := b.Status(); st.Registration != agentclient.RegRegistered || st.Warning != "" {
			t.Errorf("after registering: %q, warning %q", st.Registration, st.Warning)
		}
	})
	if n := m.count("deregister"); n != deregs {
		t.Errorf("the manager saw %d deregistrations: the first device's registration was disturbed", n-deregs)
	}
	if st := a.Status(); st.Registration != agentclient.RegRegistered {
		t.Errorf("the first device is %q", st.Registration)
	}
}

func TestCheckBackupFilesRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
	}{
		{"state not JSON", map[string][]byte{"state.json": []byte("{")}},
		{"state of another version", map[string][]byte{"state.json": []byte(`{"version": 99}`)}},
		{"config with an unknown field", map[string][]byte{"config.json": []byte(`{"mode": "Direct", "colour": 1}`)}},
		{"config with a bad URL", map[string][]byte{"config.json": []byte(`{"mode": "OnPrem", "url": "http://x/SmartTransport"}`)}},
		{"key without PEM", map[string][]byte{"device.key": []byte("key")}},
		{"unknown file", map[string][]byte{"other.json": []byte("{}")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckBackupFiles(tc.files)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.name != "unknown file" && !errors.Is(err, errCorrupt) {
				t.Errorf("error %v is not errCorrupt", err)
			}
		})
	}
}
