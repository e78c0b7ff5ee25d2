package sipclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		bad  string // part of the error, "" when valid
	}{
		{"empty", Config{}, ""},
		{"full", Config{Domain: "vx.example.com", RoomPattern: "room|codec", Neighbor: "10.0.2.2:5070"}, ""},
		{"neighbour without port", Config{Neighbor: "peer.example.com"}, ""},
		{"domain with space", Config{Domain: "vx example"}, "not a DNS name"},
		{"domain with trailing dot", Config{Domain: "vx.example."}, "not a DNS name"},
		{"bad pattern", Config{RoomPattern: "room("}, "room User-Agent pattern"},
		{"bad port", Config{Neighbor: "10.0.2.2:70000"}, "port"},
		{"bad host", Config{Neighbor: "a b"}, "not an IP address or DNS name"},
		{"advertised address with port", Config{Advertise: "127.0.0.1:5070", AdvertiseTLSPort: 5071}, ""},
		{"advertised name", Config{Advertise: "sip.example.com"}, ""},
		{"advertised bad port", Config{Advertise: "127.0.0.1:0"}, "advertised address"},
		{"advertised bad host", Config{Advertise: "a b"}, "advertised address"},
		{"advertised TLS port out of range", Config{AdvertiseTLSPort: 70000}, "advertised TLS port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			switch {
			case tt.bad == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.bad != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.bad)):
				t.Fatalf("Validate = %v, want ErrInvalid mentioning %q", err, tt.bad)
			}
		})
	}
}

func TestConfigSaveLoadAndRefusal(t *testing.T) {
	root := t.TempDir()
	c, err := LoadConfig(root)
	if err != nil || c != (Config{}) {
		t.Fatalf("LoadConfig(empty root) = %+v, %v; want defaults", c, err)
	}
	want := Config{Domain: "vx.example.com", Neighbor: "10.0.2.2"}
	if err := SaveConfig(root, want); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(root, ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateConfig(root, func(c *Config) error { c.Domain = "bad domain"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UpdateConfig with a bad domain = %v, want ErrInvalid", err)
	}
	after, _ := os.ReadFile(filepath.Join(root, ConfigPath))
	if string(before) != string(after) {
		t.Errorf("a refused change rewrote the file:\n%s\nwas\n%s", after, before)
	}
	got, err := LoadConfig(root)
	if err != nil || got != want {
		t.Fatalf("LoadConfig = %+v, %v; want %+v", got, err, want)
	}
	if got.Realm() != "vx.example.com" || (Config{}).Realm() != DefaultRealm {
		t.Errorf("realms: %q, %q", got.Realm(), (Config{}).Realm())
	}
	if got.NeighborAddr() != "10.0.2.2:5060" {
		t.Errorf("NeighborAddr = %q", got.NeighborAddr())
	}
}

func TestRoomPattern(t *testing.T) {
	re, err := Config{}.Room()
	if err != nil {
		t.Fatal(err)
	}
	for ua, room := range map[string]bool{
		"Cisco Room Kit":         true,
		"TANDBERG/529 (TC7.3.6)": false,
		"Cisco Webex Board 55":   true,
		"Cisco SX80 codec":       true,
		"Jabber/14.1":            false,
		"":                       false,
	} {
		if got := re.MatchString(ua); got != room {
			t.Errorf("%q: room %v, want %v", ua, got, room)
		}
	}
}

func TestCredentials(t *testing.T) {
	root := t.TempDir()
	cr, err := NewCredential("alice", "vx.example.com", "secret12")
	if err != nil {
		t.Fatal(err)
	}
	// RFC 2617's HA1 = MD5(user:realm:password), as openssl would compute.
	if cr.HA1MD5 != HA1("MD5", "alice", "vx.example.com", "secret12") || len(cr.HA1SHA256) != 64 {
		t.Fatalf("credential %+v", cr)
	}
	if err := UpdateCredentials(root, func(c Credentials) error { c["alice"] = cr; return nil }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, CredentialsPath))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret12") {
		t.Fatal("the password is stored in clear")
	}
	fi, _ := os.Stat(filepath.Join(root, CredentialsPath))
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want 0660 (root and the admin shell's group, nobody else)", fi.Mode().Perm())
	}
	c, err := LoadCredentials(root)
	if err != nil || c["alice"] != cr {
		t.Fatalf("LoadCredentials = %v, %v", c, err)
	}
	for _, bad := range []struct{ name, pw string }{{"", "secret12"}, {"a b", "secret12"}, {"alice", "abc"}, {"alice", "pass\x01word"}} {
		if _, err := NewCredential(bad.name, "r", bad.pw); !errors.Is(err, ErrBadCredential) {
			t.Errorf("NewCredential(%q, %q) = %v, want ErrBadCredential", bad.name, bad.pw, err)
		}
	}
}

// FuzzParseCredentials: the credentials file never panics the parser,
// and what it accepts has valid names and hex digests.
func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte(`{"alice":{"realm":"r","ha1_md5":"0123456789abcdef0123456789abcdef","ha1_sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}`))
	f.Add([]byte(`{"a b":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCredentials(b)
		if err != nil {
			return
		}
		for name, cr := range c {
			if checkName(name) != nil || !isHex(cr.HA1MD5, 32) || !isHex(cr.HA1SHA256, 64) {
				t.Fatalf("accepted %q: %+v", name, cr)
			}
		}
	})
}
