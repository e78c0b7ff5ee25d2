package appconfig

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePublicPEM(t *testing.T, path string, pub any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOptionKeyPublicKeys(t *testing.T) {
	dir := t.TempDir()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writePublicPEM(t, filepath.Join(dir, "vendor.pub"), pub)
	var published ed25519.PublicKey
	for k := range publishedKeys {
		published, _ = hex.DecodeString(k)
	}
	writePublicPEM(t, filepath.Join(dir, "demo.pub"), published)
	if err := os.WriteFile(filepath.Join(dir, "junk.pub"), []byte("not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "version = 1\n[licensing]\ndirect_url = \"https://lic.example.test/\"\n[users]\nroot_password = \"x\"\nadmin_password = \"y\"\n"

	c, err := Parse([]byte(base+"[option_keys]\npublic_key_files = [\"vendor.pub\"]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := c.OptionKeyPublicKeys()
	if err != nil || len(keys) != 1 || !keys[0].Equal(pub) {
		t.Fatalf("OptionKeyPublicKeys = %v, %v; want the key of vendor.pub", keys, err)
	}
	// A release also signs its upgrade bundle with its own key.
	writeSigningKey(t, filepath.Join(dir, "release.key"))
	if c, err := Parse([]byte(base+"[build]\nrelease = true\n[option_keys]\npublic_key_files = [\"vendor.pub\"]\n[upgrade]\nsigning_key_file = \"release.key\"\n"), dir); err != nil || !c.Build.Release {
		t.Fatalf("a release with its own vendor key: %v", err)
	}

	for _, tt := range []struct {
		name, extra, want string
	}{
		{"missing file", "[option_keys]\npublic_key_files = [\"none.pub\"]\n", "option_keys.public_key_files: " + filepath.Join(dir, "none.pub") + " not found"},
		{"not PEM", "[option_keys]\npublic_key_files = [\"junk.pub\"]\n", "holds no PEM \"PUBLIC KEY\" block"},
		{"release without a key", "[build]\nrelease = true\n", "must trust the vendor's option-key public key"},
		{"release with the published key", "[build]\nrelease = true\n[option_keys]\npublic_key_files = [\"demo.pub\"]\n", "is a published demonstration key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(base+tt.extra), dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The published key is fine outside a release (a lab may use it).
	if _, err := Parse([]byte(base+"[option_keys]\npublic_key_files = [\"demo.pub\"]\n"), dir); err != nil {
		t.Errorf("a non-release build with the demonstration key: %v", err)
	}
}
