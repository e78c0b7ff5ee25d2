package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vxway/licproto"
	"vxway/ssm/pgtest"
)

// TestCLIPostgres runs init, the admin commands and serve against a
// PostgreSQL database given with --db (init) or in SSM_DB (the others, so
// that a password would stay off the command line), and registers a
// device.
func TestCLIPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	bin := ssmBinary(t)
	data := filepath.Join(t.TempDir(), "mgr")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--data", data}, args...)...)
		cmd.Env = append(os.Environ(), "SSM_DB="+dsn)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("init", "--db", dsn, "--san", "127.0.0.1"); !strings.Contains(out, "database: postgres") {
		t.Errorf("init: %s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "ssm.db")); err == nil {
		t.Errorf("init --db made a SQLite file too")
	}
	run("account", "create", "Acme")
	run("va", "create", "--account", "Acme", "Default")
	run("license", "add", "--va", "Default", "--type", "desktop", "--count", "3")
	tok := lastLine(run("token", "create", "--va", "Default"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--mode", "cloud")
	srv.Env = append(os.Environ(), "SSM_DB="+dsn)
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(os.Interrupt); srv.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`endpoint (https://\S+)` + regexp.QuoteMeta(licproto.DirectPath) + ` `).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve printed %q", line)
	}
	caPEM, _ := os.ReadFile(filepath.Join(data, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &licproto.Client{URL: m[1] + licproto.DirectPath, Verifier: licproto.NewVerifier(pool),
		HTTP: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	udi := "UDI_PID:Expressway; UDI_SN:0451516B; UDI_VID:1.0;"
	if _, err := client.Do(ctx, licproto.TypeRegister, udi, key, &licproto.RegisterPayload{Token: tok, PublicKey: pub}, nil); err != nil {
		t.Fatalf("register: %v", err)
	}
	if _, err := client.Do(ctx, licproto.TypeAuthorize, udi, key, &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.Desktop: 2}}, nil); err != nil {
		t.Fatalf("authorize: %v", err)
	}
	if out := run("license", "list", "--va", "Default"); !regexp.MustCompile(`desktop\s+Desktop Registration\s+3\s+2\s+0\s+1`).MatchString(out) {
		t.Errorf("license list:\n%s", out)
	}
}
