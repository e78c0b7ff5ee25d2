package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vxway/platform"
	"vxway/platform/vendorkey"
)

func TestOptionKeyKeygenAndSign(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "vendor")
	if out, err := runCLI(t, "option-key", "keygen", prefix); err != nil || !strings.Contains(out, "keep it secret") {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the private key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if _, err := runCLI(t, "option-key", "keygen", prefix); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("keygen over an existing key: %v", err)
	}
	pubPEM, err := os.ReadFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := vendorkey.ParsePublicPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "option-key", "sign", "--key", prefix+".key", "--serial", "0B070519", "--option", "RichMediaSessions", "--count", "50")
	if err != nil {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	k, err := platform.ParseOptionKey(strings.TrimSpace(out), pub)
	if err != nil || k.Serial != "0B070519" || k.Option != "RichMediaSessions" || k.Count != 50 {
		t.Errorf("issued key %q parses as %+v, %v", out, k, err)
	}
	if _, err := runCLI(t, "option-key", "sign", "--key", prefix+".pub", "--serial", "0B070519", "--option", "HSM"); err == nil {
		t.Error("sign accepted a public key as the signing key")
	}
	if _, err := runCLI(t, "option-key", "sign", "--key", prefix+".key", "--serial", "0B070519", "--option", "Teleport"); err == nil || !strings.Contains(err.Error(), "unknown option") {
		t.Errorf("sign with an unknown option: %v", err)
	}
	// openssl agrees on both files.
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("openssl not installed; skipping the independent check")
		return
	}
	got, err := exec.Command(openssl, "pkey", "-in", prefix+".key", "-pubout").Output()
	if err != nil || string(got) != string(pubPEM) {
		t.Errorf("openssl pkey -pubout gives %q (%v), want the .pub file %q", got, err, pubPEM)
	}
}
