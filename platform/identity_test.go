package platform

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func writeSys(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, "sys", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var serialRE = regexp.MustCompile(`^[0-9A-F]{8}$`)
var hostRE = regexp.MustCompile(`^[0-9a-f]{8}$`)

func TestIdentitySources(t *testing.T) {
	uuid := "class/dmi/id/product_uuid"
	for _, c := range []struct {
		name   string
		sys    map[string]string
		source string
	}{
		{"smbios", map[string]string{uuid: "4C4C4544-0042-3510-8056-B4C04F4E3132\n", "class/net/eth0/address": "52:54:00:12:34:56\n"}, SourceSMBIOS},
		{"zero uuid falls back to mac", map[string]string{uuid: "00000000-0000-0000-0000-000000000000\n", "class/net/lo/address": "00:00:00:00:00:00\n", "class/net/eth0/address": "52:54:00:12:34:56\n"}, SourceMAC},
		{"first named interface", map[string]string{"class/net/eth1/address": "52:54:00:aa:bb:cc\n", "class/net/eth0/address": "00:00:00:00:00:00\n", "class/net/wlan0/address": "52:54:00:00:00:01\n"}, SourceMAC},
		{"no hardware", map[string]string{"class/net/lo/address": "00:00:00:00:00:00\n"}, SourceRandom},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeSys(t, root, c.sys)
			id, err := LoadIdentity(root, newTestClock())
			if err != nil {
				t.Fatal(err)
			}
			if id.Source != c.source || !serialRE.MatchString(id.Serial) || !hostRE.MatchString(id.HostID) {
				t.Errorf("identity = %+v, want source %s", id, c.source)
			}
		})
	}
}

func TestIdentityDeterministicAndStable(t *testing.T) {
	sys := map[string]string{"class/dmi/id/product_uuid": "4c4c4544-0042-3510-8056-b4c04f4e3132\n"}
	a, b := t.TempDir(), t.TempDir()
	writeSys(t, a, sys)
	writeSys(t, b, sys)
	clk := newTestClock()
	ida, err := LoadIdentity(a, clk)
	if err != nil {
		t.Fatal(err)
	}
	idb, _ := LoadIdentity(b, clk)
	if ida.Serial != idb.Serial || ida.HostID != idb.HostID {
		t.Errorf("same hardware, different identities: %+v %+v", ida, idb)
	}
	writeSys(t, b, map[string]string{"class/dmi/id/product_uuid": "4c4c4544-0042-3510-8056-b4c04f4e3133\n"})
	if err := os.Remove(filepath.Join(b, IdentityPath)); err != nil {
		t.Fatal(err)
	}
	if idc, _ := LoadIdentity(b, clk); idc.Serial == ida.Serial {
		t.Errorf("different hardware, same serial %s", idc.Serial)
	}

	// Once stored, the identity does not follow hardware changes (a new
	// NIC) and survives a wiped data partition.
	clk.Advance(24 * time.Hour)
	writeSys(t, a, map[string]string{"class/dmi/id/product_uuid": "11111111-2222-3333-4444-555555555555\n"})
	os.RemoveAll(filepath.Join(a, "data"))
	again, err := LoadIdentity(a, clk)
	if err != nil {
		t.Fatal(err)
	}
	if again != ida {
		t.Errorf("identity changed: %+v, was %+v", again, ida)
	}

	// A random identity is kept as well.
	r := t.TempDir()
	r1, _ := LoadIdentity(r, clk)
	r2, _ := LoadIdentity(r, clk)
	if r1 != r2 {
		t.Errorf("random identity not kept: %+v then %+v", r1, r2)
	}
}

func TestIdentityDamagedFileRederives(t *testing.T) {
	root := t.TempDir()
	writeSys(t, root, map[string]string{"class/net/eth0/address": "52:54:00:12:34:56\n"})
	first, err := LoadIdentity(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, IdentityPath), []byte(`{"serial":"zz"`), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := LoadIdentity(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Serial != first.Serial || again.HostID != first.HostID {
		t.Errorf("re-derived %+v, want %+v", again, first)
	}
}

func TestUDI(t *testing.T) {
	id := Identity{Serial: "04515163", HostID: "320aa69d"}
	if got, want := id.UDI(BrandExpressway), "UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;"; got != want {
		t.Errorf("UDI = %q, want %q", got, want)
	}
	if got, want := id.UDI(BrandVCS), "UDI_PID:VCS; UDI_SN:04515163; UDI_VID:1.0;"; got != want {
		t.Errorf("UDI = %q, want %q", got, want)
	}
}

// TestStoredIdentity: the identity on persist is read as it is, a missing
// or damaged one is told apart and nothing is derived or written.
func TestStoredIdentity(t *testing.T) {
	good := `{"serial":"0A1B2C3D","host_id":"0badcafe","source":"random","derived":"2026-01-01T00:00:00Z"}`
	for _, tc := range []struct {
		name, file string
		want       error
	}{
		{"stored", good, nil},
		{"missing", "", ErrNoIdentity},
		{"not json", "{", ErrBadIdentity},
		{"short serial", `{"serial":"0A1B","host_id":"0badcafe"}`, ErrBadIdentity},
		{"lower-case serial", `{"serial":"0a1b2c3d","host_id":"0badcafe"}`, ErrBadIdentity},
		{"other key name", `{"sn":"0A1B2C3D","host_id":"0badcafe"}`, ErrBadIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeSys(t, root, map[string]string{"class/dmi/id/product_uuid": "4c4c4544-0042-3510-8056-b4c04f4e3132\n"})
			p := filepath.Join(root, IdentityPath)
			if tc.file != "" {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			id, err := StoredIdentity(root)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("StoredIdentity = %+v, %v; want %v", id, err, tc.want)
				}
				if b, _ := os.ReadFile(p); string(b) != tc.file {
					t.Errorf("identity file changed to %q", b)
				}
				return
			}
			if err != nil || id.Serial != "0A1B2C3D" || id.HostID != "0badcafe" {
				t.Fatalf("StoredIdentity = %+v, %v", id, err)
			}
		})
	}
}
