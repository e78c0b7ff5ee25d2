package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUserAndTransferCommands drives ssm user and ssm license transfer
// as an administrator would: the one-time password is printed once, as the
// last line, and never stored or listed; refusals say what to do and
// change nothing.
func TestUserAndTransferCommands(t *testing.T) {
	p := inproc{t: t, env: map[string]string{envData: filepath.Join(t.TempDir(), "ssm")}}
	p.ok("init", "--san", "localhost")
	p.ok("account", "create", "Acme")
	p.ok("va", "create", "--account", "Acme", "Sales")
	p.ok("va", "create", "--account", "Acme", "Lab")
	p.ok("license", "add", "--va", "Sales", "--type", "rms", "--count", "5")

	out := p.ok("user", "add", "--name", "alice", "--role", "account-admin", "--account", "Acme")
	pw := lastLine(out)
	if !regexp.MustCompile(`^[A-Za-z0-9]{16}$`).MatchString(pw) || !strings.Contains(out, "Smart account administrator") {
		t.Fatalf("user add printed:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "--name", "alice", "--role", "va-user", "--va", "Lab"}, `already exists: user "alice"`},
		{[]string{"user", "add", "--name", "bob", "--role", "admin"}, "not one of manager-admin, account-admin, va-user"},
		{[]string{"user", "add", "--name", "bob", "--role", "va-user"}, "needs --va"},
		{[]string{"user", "delete", "nobody"}, `user "nobody" (see: ssm user list)`},
		{[]string{"license", "transfer", "--from", "Sales", "--to", "Lab", "--type", "rms", "--count", "6"}, "has 5 rms licenses available"},
	} {
		if got := p.fail(tc.args...); !strings.Contains(got, tc.want) {
			t.Errorf("ssm %s: want %q in:\n%s", strings.Join(tc.args, " "), tc.want, got)
		}
	}
	list := p.ok("user", "list")
	if !strings.Contains(list, "alice") || !strings.Contains(list, "one-time, not yet changed") || strings.Contains(list, pw) || strings.Contains(list, "bob") {
		t.Errorf("user list:\n%s", list)
	}
	if js := p.ok("user", "list", "--json"); strings.Contains(js, "argon2") || strings.Contains(js, pw) {
		t.Errorf("user list --json shows a secret:\n%s", js)
	}
	tok := lastLine(p.ok("user", "token", "alice"))
	if !strings.HasPrefix(tok, "ssmu_") {
		t.Errorf("user token printed %q", tok)
	}
	if out := p.ok("user", "token", "--revoke", "alice"); !strings.Contains(out, "revoked 1 API token") {
		t.Errorf("revoke: %s", out)
	}
	if np := lastLine(p.ok("user", "reset-password", "alice")); np == pw || len(np) != 16 {
		t.Errorf("reset-password printed %q", np)
	}
	p.ok("license", "transfer", "--from", "Sales", "--to", "Lab", "--type", "rms", "--count", "2")
	if l := p.ok("license", "list", "--va", "Lab"); !regexp.MustCompile(`(?m)^rms\s+Rich Media Session\s+2\s+0\s+0\s+2\s*$`).MatchString(l) {
		t.Errorf("Lab after the transfer:\n%s", l)
	}
	if ev := p.ok("events", "--va", "Sales"); !strings.Contains(ev, "2 rms transferred to Lab") {
		t.Errorf("Sales events:\n%s", ev)
	}
	p.ok("user", "delete", "alice")
	if list := p.ok("user", "list"); strings.Contains(list, "alice") {
		t.Errorf("alice still listed:\n%s", list)
	}
}
