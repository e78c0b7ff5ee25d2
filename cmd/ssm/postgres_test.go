package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vxway/licproto"
	"vxway/ssm/pgtest"
)

// TestCLIPostgres runs init, the admin commands and serve against a
// PostgreSQL database given with --db (init) or in SSM_DB (the others, so
// that a password would stay off the command line), and registers a
// device.
func TestCLIPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	c := &cliRun{t: t, bin: ssmBinary(t), data: filepath.Join(t.TempDir(), "mgr"), env: []string{"SSM_DB=" + dsn}}
	if out := c.ok("init", "--db", dsn, "--san", "127.0.0.1"); !strings.Contains(out, "database: postgres") {
		t.Errorf("init: %s", out)
	}
	if _, err := os.Stat(filepath.Join(c.data, "ssm.db")); err == nil {
		t.Errorf("init --db made a SQLite file too")
	}
	c.ok("account", "create", "Acme")
	c.ok("va", "create", "--account", "Acme", "Default")
	c.ok("license", "add", "--va", "Default", "--type", "desktop", "--count", "3")
	tok := lastLine(c.ok("token", "create", "--va", "Default"))

	ctx := context.Background()
	client, _ := c.serve(nil, "--listen", "127.0.0.1:0", "--mode", "cloud")
	if !strings.HasSuffix(client.URL, licproto.DirectPath) {
		t.Errorf("cloud endpoint %s, want the path %s", client.URL, licproto.DirectPath)
	}
	key, pub := deviceKey(t)
	udi := "UDI_PID:Expressway; UDI_SN:0451516B; UDI_VID:1.0;"
	if _, err := client.Do(ctx, licproto.TypeRegister, udi, key, &licproto.RegisterPayload{Token: tok, PublicKey: pub}, nil); err != nil {
		t.Fatalf("register: %v", err)
	}
	if _, err := client.Do(ctx, licproto.TypeAuthorize, udi, key, &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.Desktop: 2}}, nil); err != nil {
		t.Fatalf("authorize: %v", err)
	}
	if out := c.ok("license", "list", "--va", "Default"); !regexp.MustCompile(`desktop\s+Desktop Registration\s+3\s+2\s+0\s+1`).MatchString(out) {
		t.Errorf("license list:\n%s", out)
	}
}
