package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vxway/licproto"
)

// ssmBinary builds the ssm program once per test run.
func ssmBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ssm")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("building ssm: %v\n%s", err, out)
	}
	return bin
}

type cliRun struct {
	t    *testing.T
	bin  string
	data string
}

// ok runs ssm with args and returns its output, failing the test on error.
func (c *cliRun) ok(args ...string) string {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fail runs ssm expecting an error and returns its output.
func (c *cliRun) fail(args ...string) string {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	if err == nil {
		c.t.Fatalf("ssm %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

func (c *cliRun) cmd(args ...string) *exec.Cmd {
	return exec.Command(c.bin, append([]string{"--data", c.data}, args...)...)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestCLI(t *testing.T) {
	c := &cliRun{t: t, bin: ssmBinary(t), data: filepath.Join(t.TempDir(), "mgr")}
	c.ok("init", "--san", "localhost,127.0.0.1")
	if fi, err := os.Stat(filepath.Join(c.data, "ssm.db")); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode())
	}
	if out := c.fail("init", "--san", "localhost"); !strings.Contains(out, "already holds a manager CA") {
		t.Errorf("second init: %s", out)
	}
	c.ok("account", "create", "Acme")
	c.ok("va", "create", "--account", "Acme", "Default")
	c.ok("va", "create", "--account", "Acme", "Lab")
	c.ok("license", "add", "--va", "Default", "--type", "rms", "--count", "5")
	c.ok("license", "add", "--va", "Default", "--type", "room", "--count", "2")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"license", "add", "--va", "Default", "--type", "gold", "--count", "1"}, `license type "gold" is not one of rms, room, desktop`},
		{[]string{"license", "add", "--va", "Nope", "--type", "rms", "--count", "1"}, `virtual account "Nope"`},
		{[]string{"license", "add", "--va", "Default", "--type", "rms", "--count", "-3"}, "outside 1..1000000"},
		{[]string{"va", "create", "--account", "Nope", "X"}, "ssm account create"},
		{[]string{"account", "create", "Acme"}, "already exists"},
		{[]string{"account", "create"}, "takes one argument"},
		{[]string{"token", "create", "--va", "Default", "--expires-days", "999"}, "outside 1..365"},
		{[]string{"token", "revoke", "not-a-real-token-at-all"}, "no such token"},
		{[]string{"instance", "show", "nope"}, "not found"},
	} {
		if out := c.fail(tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("ssm %s: %q does not say %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
	tok := lastLine(c.ok("token", "create", "--va", "Default", "--uses", "2"))
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{40,}$`).MatchString(tok) {
		t.Fatalf("token line %q", tok)
	}
	labTok := lastLine(c.ok("token", "create", "--va", "Lab", "--no-export-control"))
	list := c.ok("token", "list", "--va", "Default")
	if strings.Contains(list, tok) || !strings.Contains(list, "0/2") {
		t.Errorf("token list shows the token or misses the uses:\n%s", list)
	}

	// Serve as a real process and register a device against it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, c.bin, "--data", c.data, "serve", "--listen", "127.0.0.1:0", "--mode", "onprem")
	stdout, _ := srv.StdoutPipe()
	var logs strings.Builder
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), labTok) {
			t.Errorf("the manager log shows a whole token:\n%s", logs.String())
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v %s", err, logs.String())
	}
	m := regexp.MustCompile(`endpoint (https://\S+/SmartTransport)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve printed %q", line)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(c.data, "ca.crt"))
	pool.AppendCertsFromPEM(caPEM)
	client := &licproto.Client{URL: m[1], Verifier: licproto.NewVerifier(pool),
		HTTP: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	udi := "UDI_PID:Expressway; UDI_SN:0451516A; UDI_VID:1.0;"
	var reg licproto.RegisterResult
	if _, err := client.Do(ctx, licproto.TypeRegister, udi, key, &licproto.RegisterPayload{Token: tok, PublicKey: pub, Hostname: "vcs1", IP: "192.0.2.5"}, &reg); err != nil {
		t.Fatalf("register: %v", err)
	}
	var auth licproto.AuthorizeResult
	if _, err := client.Do(ctx, licproto.TypeAuthorize, udi, key, &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: 3, licproto.Room: 3}}, &auth); err != nil {
		t.Fatalf("authorize: %v", err)
	}
	if auth.State != licproto.StateOutOfCompliance {
		t.Errorf("3 rooms of 2: %+v", auth)
	}
	// The admin CLI sees the server's writes in the same data directory.
	lic := c.ok("license", "list", "--va", "Default")
	if !regexp.MustCompile(`rms\s+Rich Media Session\s+5\s+3\s+0\s+2`).MatchString(lic) {
		t.Errorf("license list:\n%s", lic)
	}
	show := c.ok("instance", "show", udi)
	for _, want := range []string{"vcs1", "192.0.2.5", "out_of_compliance", "Usage Room Registration: 3 (out_of_compliance)"} {
		if !strings.Contains(strings.Join(strings.Fields(show), " "), want) {
			t.Errorf("instance show misses %q:\n%s", want, show)
		}
	}
	var js []map[string]any
	if err := json.Unmarshal([]byte(c.ok("--json", "instance", "list", "--va", "Default")), &js); err != nil || len(js) != 1 {
		t.Errorf("instance list --json: %v %v", js, err)
	}
	c.ok("instance", "transfer", "--va", "Lab", udi)
	if out := c.ok("license", "list", "--va", "Lab"); !regexp.MustCompile(`rms\s+Rich Media Session\s+0\s+3`).MatchString(out) {
		t.Errorf("Lab after transfer:\n%s", out)
	}
	// Removing needs confirmation.
	rm := c.cmd("instance", "remove", udi)
	rm.Stdin = strings.NewReader("no\n")
	if out, err := rm.CombinedOutput(); err == nil || !strings.Contains(string(out), "not removed") {
		t.Errorf("remove without confirmation: %v %s", err, out)
	}
	rm = c.cmd("instance", "remove", udi)
	rm.Stdin = strings.NewReader("yes\n")
	if out, err := rm.CombinedOutput(); err != nil {
		t.Fatalf("remove: %v %s", err, out)
	}
	if _, err := client.Do(ctx, licproto.TypeAuthorize, udi, key, &licproto.AuthorizePayload{}, nil); !errors.Is(err, licproto.ErrNotRegistered) {
		t.Errorf("authorize after remove: %v", err)
	}
	c.ok("token", "revoke", tok)
	if _, err := client.Do(ctx, licproto.TypeRegister, udi, key, &licproto.RegisterPayload{Token: tok, PublicKey: pub}, nil); !errors.Is(err, licproto.ErrTokenRevoked) {
		t.Errorf("register with revoked token: %v", err)
	}
	ev := c.ok("events", "--va", "Default")
	for _, want := range []string{"registered", "out_of_compliance", "transferred"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events miss %s:\n%s", want, ev)
		}
	}
	if out := c.ok("events", "--va", "Lab"); !strings.Contains(out, "removed") {
		t.Errorf("Lab events:\n%s", out)
	}
}
