package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/appconfig"
	"vxway/clock"
	"vxway/rootfs"
)

// inproc runs the ssm app in this process with the environment env.
type inproc struct {
	t   *testing.T
	env map[string]string
}

func (p inproc) run(ctx context.Context, stdout *syncBuffer, args ...string) error {
	e := &cmdEnv{stdin: strings.NewReader(""), stdout: stdout, stderr: stdout, clock: clock.Real{},
		getenv: func(k string) string { return p.env[k] }}
	return newApp(e).RunContext(ctx, append([]string{"ssm"}, args...))
}

// ok runs ssm with args and returns its output, failing the test on error.
func (p inproc) ok(args ...string) string {
	p.t.Helper()
	var out syncBuffer
	if err := p.run(context.Background(), &out, args...); err != nil {
		p.t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// fail runs ssm expecting an error and returns the error and the output.
func (p inproc) fail(args ...string) string {
	p.t.Helper()
	var out syncBuffer
	err := p.run(context.Background(), &out, args...)
	if err == nil {
		p.t.Fatalf("ssm %s succeeded:\n%s", strings.Join(args, " "), out.String())
	}
	return err.Error() + "\n" + out.String()
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines, which
// calls onWrite with everything written so far.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	onWrite func(string)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	if s.onWrite != nil {
		s.onWrite(s.b.String())
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDataFlagPlaces: --data works before the command, after it, and from
// SSM_DATA, for init, serve and the admin commands.
func TestDataFlagPlaces(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  bool     // SSM_DATA instead of a flag
		args []string // DIR stands for the data directory
	}{
		{"before", false, []string{"--data", "DIR", "init", "--san", "localhost"}},
		{"after", false, []string{"init", "--data", "DIR", "--san", "localhost"}},
		{"after, last", false, []string{"init", "--san", "localhost", "--data=DIR"}},
		{"both, same", false, []string{"--data", "DIR", "init", "--data", "DIR", "--san", "localhost"}},
		{"environment", true, []string{"init", "--san", "localhost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "mgr")
			p := inproc{t: t, env: map[string]string{}}
			if tc.env {
				p.env["SSM_DATA"] = dir
			}
			sub := func(args ...string) []string {
				out := make([]string, len(args))
				for i, a := range args {
					out[i] = strings.ReplaceAll(a, "DIR", dir)
				}
				return out
			}
			p.ok(sub(tc.args...)...)
			if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err != nil {
				t.Fatalf("init made no CA: %v", err)
			}
			// The same place for an admin command and for serve.
			swap := func(cmd ...string) []string {
				var args []string
				switch {
				case tc.env:
					args = cmd
				case tc.args[0] == "--data":
					args = append([]string{"--data", dir}, cmd...)
				default: // after the command, before its arguments
					args = append(append([]string{}, cmd[:len(cmd)-1]...), "--data", dir, cmd[len(cmd)-1])
				}
				return args
			}
			p.ok(swap("account", "create", "Acme")...)
			if out := p.ok(swap("account", "list", "--json")...); !strings.Contains(out, "Acme") {
				t.Errorf("account list:\n%s", out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := &syncBuffer{onWrite: func(s string) {
				if strings.Contains(s, "serving ") {
					cancel()
				}
			}}
			if err := p.run(ctx, out, swap("serve", "--listen=127.0.0.1:0")...); err != nil {
				t.Fatalf("serve: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "serving onprem agent endpoint https://127.0.0.1:") {
				t.Errorf("serve printed:\n%s", out.String())
			}
		})
	}
}

// TestDBFlagPlaces: --db works before the command, after it, and from
// SSM_DB; a flag wins over the environment; two different values are
// refused without showing either. (A path that is not a postgres:// URL
// names a SQLite file, which lets the test see where the data went.)
func TestDBFlagPlaces(t *testing.T) {
	dir := t.TempDir()
	db := func(name string) string { return filepath.Join(dir, name+".db") }
	p := inproc{t: t, env: map[string]string{"SSM_DB": db("env")}}
	p.ok("--db", db("before"), "account", "create", "Before")
	p.ok("account", "create", "--db", db("after"), "After")
	p.ok("account", "create", "FromEnv")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", db("before"), "account", "list", "--json"}, "Before"},
		{[]string{"account", "list", "--json", "--db", db("after")}, "After"},
		{[]string{"--json", "account", "list"}, "FromEnv"},
	} {
		var got []struct{ Name string }
		out := p.ok(tc.args...)
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].Name != tc.want {
			t.Errorf("ssm %s: %v %s, want only %s", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	out := p.fail("--db", "postgres://u:secret1@127.0.0.1:1/a", "account", "list", "--db", "postgres://u:secret2@127.0.0.1:1/b")
	if !strings.Contains(out, "--db is given before and after the command with different values") || strings.Contains(out, "secret") {
		t.Errorf("two --db values: %s", out)
	}
	if out := p.fail("--data", filepath.Join(dir, "a"), "account", "list", "--data", filepath.Join(dir, "b")); !strings.Contains(out, "--data is given before and after") {
		t.Errorf("two --data values: %s", out)
	}
}

// TestDBPasswordNotShown: a database password given in the URL, as user
// password or ?password=, is not printed when the connection fails.
func TestDBPasswordNotShown(t *testing.T) {
	const url = "postgres://ssm:hunter2@127.0.0.1:1/ssm?sslmode=disable&password=hunter3"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"flag", nil, []string{"--db", url, "account", "list"}},
		{"flag after", nil, []string{"account", "list", "--db", url}},
		{"environment", map[string]string{"SSM_DB": url}, []string{"account", "list"}},
		{"serve", map[string]string{"SSM_DB": url}, []string{"serve", "--data", "DIR", "--listen", "127.0.0.1:0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := inproc{t: t, env: tc.env}
			args := tc.args
			if tc.name == "serve" {
				dir := filepath.Join(t.TempDir(), "mgr")
				inproc{t: t}.ok("init", "--data", dir, "--san", "localhost")
				args = []string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}
			}
			out := p.fail(args...)
			if !strings.Contains(out, "connecting to database postgres://ssm:xxxxx@127.0.0.1:1/ssm") {
				t.Errorf("error does not name the database:\n%s", out)
			}
			if strings.Contains(out, "hunter") {
				t.Errorf("error shows the password:\n%s", out)
			}
		})
	}
}

// TestListsJSON: every listing prints a JSON array with --json, before or
// after the command; an empty one prints [].
func TestListsJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mgr")
	p := inproc{t: t}
	p.ok("init", "--data", dir, "--san", "localhost")
	storeLists := [][]string{
		{"account", "list"},
		{"instance", "list"},
	}
	vaLists := [][]string{
		{"instance", "list", "--va", "Default"},
		{"token", "list", "--va", "Default"},
		{"events", "--va", "Default"},
		{"reservation", "list", "--va", "Default"},
	}
	// check runs each listing with --json before and after the command;
	// empty says whether the output must be [].
	check := func(lists [][]string, empty bool) {
		t.Helper()
		for _, l := range lists {
			for _, args := range [][]string{
				append([]string{"--data", dir, "--json"}, l...),
				append(append([]string{}, l...), "--data", dir, "--json"),
			} {
				out := p.ok(args...)
				var v []any
				if err := json.Unmarshal([]byte(out), &v); err != nil || v == nil {
					t.Errorf("ssm %s: not a JSON array (%v):\n%s", strings.Join(args, " "), err, out)
				}
				if empty && strings.TrimSpace(out) != "[]" {
					t.Errorf("ssm %s on an empty store: %s, want []", strings.Join(args, " "), out)
				}
			}
		}
	}
	check(storeLists, true)
	p.ok("--data", dir, "account", "create", "Acme")
	p.ok("--data", dir, "va", "create", "--account", "Acme", "Default")
	// A virtual account just made has no tokens, instances, events or
	// reservations.
	check(vaLists, true)
	out := p.ok("--data", dir, "license", "list", "--va", "Default", "--json")
	var lic []struct {
		Type      string
		Purchased int
	}
	if err := json.Unmarshal([]byte(out), &lic); err != nil || len(lic) == 0 {
		t.Errorf("license list --json: %v\n%s", err, out)
	}
	p.ok("--data", dir, "token", "create", "--va", "Default")
	check(append(storeLists, vaLists...), false)
}

// TestTokenExportControl: a token allows export-controlled functionality
// only when created with --export-control.
func TestTokenExportControl(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mgr")
	p := inproc{t: t}
	p.ok("init", "--data", dir, "--san", "localhost")
	p.ok("--data", dir, "account", "create", "Acme")
	p.ok("--data", dir, "va", "create", "--account", "Acme", "Default")
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{"default", nil, false},
		{"no-export-control", []string{"--no-export-control"}, false},
		{"export-control", []string{"--export-control"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := p.ok(append([]string{"--data", dir, "token", "create", "--va", "Default"}, tc.args...)...)
			want := "export-controlled functionality not allowed"
			if tc.want {
				want = "export-controlled functionality allowed"
			}
			if !strings.Contains(out, want) {
				t.Errorf("token create printed:\n%s\nwant %q", out, want)
			}
			var list []struct {
				ExportControlled bool `json:"export_controlled"`
			}
			if err := json.Unmarshal([]byte(p.ok("--data", dir, "--json", "token", "list", "--va", "Default")), &list); err != nil || len(list) == 0 {
				t.Fatalf("token list: %v", err)
			}
			if got := list[len(list)-1].ExportControlled; got != tc.want {
				t.Errorf("stored export_controlled %v, want %v", got, tc.want)
			}
		})
	}
	if out := p.fail("--data", dir, "token", "create", "--va", "Default", "--export-control", "--no-export-control"); !strings.Contains(out, "not both") {
		t.Errorf("both flags: %s", out)
	}
}

// TestInitCAForImage: the CA that ssm init writes goes into the build
// config's trusted_ca_files as it is, as the README's walk-through does,
// and lands in the image's trust store under a name the agent reads.
func TestInitCAForImage(t *testing.T) {
	top := t.TempDir()
	p := inproc{t: t}
	p.ok("--data", filepath.Join(top, "ssmdata"), "init", "--san", "10.0.2.2,127.0.0.1,localhost")
	cfg, err := appconfig.Parse([]byte(`version = 1
[users]
root_password = "TANDBERG"
admin_password = "TANDBERG"
[licensing]
direct_url = "https://smartreceiver.vxway.example/licservice/license"
trusted_ca_files = ["ssmdata/ca.crt"]
`), top)
	if err != nil {
		t.Fatalf("build config with ssmdata/ca.crt: %v", err)
	}
	entries, err := rootfs.Facts(cfg, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(top, "ssmdata", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Path == "/etc/vxway/trust/ca.pem" {
			if !bytes.Equal(e.Data, ca) {
				t.Error("the trust store's ca.pem differs from ssmdata/ca.crt")
			}
			return
		}
	}
	t.Errorf("no /etc/vxway/trust/ca.pem in the image facts")
}
