package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vxway/licproto"
	"vxway/testsupport"
)

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
	ctx := context.Background()
	var logs testsupport.SyncBuffer
	client, stop := c.serve(&logs, "--listen", "127.0.0.1:0", "--mode", "onprem")
	defer func() {
		stop()
		if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), labTok) {
			t.Errorf("the manager log shows a whole token:\n%s", logs.String())
		}
	}()
	if !strings.HasSuffix(client.URL, "/SmartTransport") {
		t.Errorf("on-prem endpoint %s", client.URL)
	}
	key, pub := deviceKey(t)
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
