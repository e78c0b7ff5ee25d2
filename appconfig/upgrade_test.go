package appconfig

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/bundle"
)

func writeSigningKey(t *testing.T, path string) []byte {
	t.Helper()
	k, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.MarshalPrivatePEM(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := bundle.MarshalPublicPEM(k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".key")+".pub", pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestUpgradeKeys(t *testing.T) {
	dir := t.TempDir()
	writeSigningKey(t, filepath.Join(dir, "build.key"))
	writeSigningKey(t, filepath.Join(dir, "other.key"))
	base := "version = 1\n[licensing]\ndirect_url = \"https://lic.example.test/\"\n[users]\nroot_password = \"x\"\nadmin_password = \"y\"\n"

	c, err := Parse([]byte(base), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Upgrade.Product != DefaultProduct || c.Upgrade.SigningKeyFile != "" {
		t.Errorf("defaults: %+v", c.Upgrade)
	}
	if keys, err := c.UpgradePublicKeys(); err != nil || len(keys) != 0 {
		t.Errorf("no key configured: UpgradePublicKeys = %v, %v", keys, err)
	}

	c, err = Parse([]byte(base+"[upgrade]\nsigning_key_file = \"build.key\"\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ReadSigningKey(c.Upgrade.SigningKeyFile)
	keys, err := c.UpgradePublicKeys()
	if err != nil || len(keys) != 1 || !keys[0].Equal(signer.Public()) {
		t.Errorf("signing key only: trusted %v, %v; want its public half", keys, err)
	}

	c, err = Parse([]byte(base+"[upgrade]\nsigning_key_file = \"build.key\"\npublic_key_files = [\"other.pub\", \"build.pub\"]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := c.UpgradePublicKeys(); err != nil || len(keys) != 2 {
		t.Errorf("two listed keys: %v, %v", keys, err)
	}

	for _, tt := range []struct{ name, extra, want string }{
		{"missing signing key", "[upgrade]\nsigning_key_file = \"none.key\"\n", "upgrade.signing_key_file: " + filepath.Join(dir, "none.key") + " not found"},
		{"public key as signing key", "[upgrade]\nsigning_key_file = \"build.pub\"\n", "no PRIVATE KEY block"},
		{"private key as public key", "[upgrade]\npublic_key_files = [\"build.key\"]\n", "no PUBLIC KEY block"},
		{"bad product", "[upgrade]\nproduct = \"two words\"\n", "upgrade.product"},
		{"unknown key", "[upgrade]\nkey = \"x\"\n", "unknown key \"upgrade.key\""},
		{"release without a signing key", "[build]\nrelease = true\n", "must sign its bundle with the release key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(base+tt.extra), dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
