package login

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vxway/testsupport"

	"golang.org/x/crypto/ssh"
)

// startSSH serves SSH on a loopback port and returns its address and host
// key; each of configure changes the server before it starts.
func startSSH(t *testing.T, configure ...func(*SSH)) (string, ssh.PublicKey, *SSH) {
	t.Helper()
	key, made, err := LoadOrMakeHostKey(filepath.Join(t.TempDir(), "data", "ssh"))
	if err != nil || !made {
		t.Fatalf("LoadOrMakeHostKey = %v, made %v", err, made)
	}
	users := newUsers(t)
	accounts := append(testAccounts(), Account{Name: "stdin-admin", Shell: "/bin/sh", Home: "/", ExecOnStdin: true})
	srv := &SSH{HostKey: key, Accounts: accounts, Checker: stdinAdmin{users}, Keys: users, Dev: "/dev"}
	for _, c := range configure {
		c(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go srv.Serve(l)
	return l.Addr().String(), key.PublicKey(), srv
}

func dial(addr string, hostKey ssh.PublicKey, user, password string) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         10 * time.Second,
	})
}

func TestSSHExec(t *testing.T) {
	addr, hostKey, _ := startSSH(t)
	tests := []struct {
		user, password, cmd string
		wantOut, wantErr    string
		wantStatus          int
	}{
		{"root", "rootpass1", "echo hello $USER $HOME; echo oops >&2; exit 3", "hello root /\n", "oops\n", 3},
		{"admin", "adminpass1", "echo $USER:$PATH", "admin:" + DefaultPath + "\n", "", 0},
		{"root", "rootpass1", "read x; echo got $x", "got fed-by-stdin\n", "", 0},
		// admin's shell takes the command on its standard input.
		{"stdin-admin", "adminpass1", "echo via-stdin", "via-stdin\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.cmd, func(t *testing.T) {
			c, err := dial(addr, hostKey, tt.user, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			sess.Stdout, sess.Stderr = &stdout, &stderr
			sess.Stdin = strings.NewReader("fed-by-stdin\n")
			err = sess.Run(tt.cmd)
			status := 0
			var exitErr *ssh.ExitError
			if errors.As(err, &exitErr) {
				status = exitErr.ExitStatus()
			} else if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tt.wantOut || stderr.String() != tt.wantErr || status != tt.wantStatus {
				t.Errorf("got stdout %q stderr %q status %d; want %q %q %d", stdout.String(), stderr.String(), status, tt.wantOut, tt.wantErr, tt.wantStatus)
			}
		})
	}
}

func TestSSHRefusesWrongPassword(t *testing.T) {
	addr, hostKey, _ := startSSH(t)
	for _, tt := range []struct{ user, password string }{
		{"root", "adminpass1"},
		{"admin", ""},
		{"nobody", "rootpass1"},
	} {
		t.Run(tt.user+"/"+tt.password, func(t *testing.T) {
			c, err := dial(addr, hostKey, tt.user, tt.password)
			if err == nil {
				c.Close()
				t.Fatal("login accepted")
			}
			if !strings.Contains(err.Error(), "unable to authenticate") {
				t.Errorf("error %v, want an authentication failure", err)
			}
		})
	}
}

func TestSSHInteractivePTY(t *testing.T) {
	addr, hostKey, _ := startSSH(t)
	c, err := dial(addr, hostKey, "root", "rootpass1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 40, 100, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("tty; stty size; echo term=$TERM; exit 5\n"))
	err = sess.Wait()
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 5 {
		t.Errorf("Wait = %v, want exit status 5", err)
	}
	got := out.String()
	for _, want := range []string{"/dev/pts/", "40 100", "term=xterm"} {
		if !strings.Contains(got, want) {
			t.Errorf("shell output lacks %q:\n%s", want, got)
		}
	}
}

func TestSSHAuthorizedKey(t *testing.T) {
	addr, hostKey, srv := startSSH(t)
	userKey, _, err := LoadOrMakeHostKey(t.TempDir()) // any Ed25519 key will do
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{
		User:            "admin",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(userKey)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
	}
	if c, err := ssh.Dial("tcp", addr, cfg); err == nil {
		c.Close()
		t.Fatal("a key not in authorized_keys was accepted")
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(userKey.PublicKey())))
	if err := srv.Keys.(interface {
		SetAuthorizedKeys(string, []string) error
	}).SetAuthorizedKeys("admin", []string{line}); err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("authorized key refused: %v", err)
	}
	c.Close()
}

func TestHostKeyKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ssh")
	k1, made1, err := LoadOrMakeHostKey(dir)
	if err != nil || !made1 {
		t.Fatalf("first LoadOrMakeHostKey = %v, made %v", err, made1)
	}
	k2, made2, err := LoadOrMakeHostKey(dir)
	if err != nil || made2 {
		t.Fatalf("second LoadOrMakeHostKey = %v, made %v", err, made2)
	}
	if !bytes.Equal(k1.PublicKey().Marshal(), k2.PublicKey().Marshal()) {
		t.Error("the host key changed between boots")
	}
	fi, err := os.Stat(filepath.Join(dir, HostKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %v, %v; want 0600", fi.Mode(), err)
	}
	os.WriteFile(filepath.Join(dir, HostKeyFile), []byte("garbage"), 0o600)
	if _, _, err := LoadOrMakeHostKey(dir); err == nil {
		t.Error("a corrupt host key was accepted")
	}
}

// stdinAdmin lets stdin-admin in with admin's password.
type stdinAdmin struct{ Checker }

func (c stdinAdmin) Check(user, password string) error {
	if user == "stdin-admin" {
		user = "admin"
	}
	return c.Checker.Check(user, password)
}

// TestSSHAuthorizedKeyWithOptions checks that a key line with options is
// not taken as an unrestricted key: the login is refused and the console
// says which line was ignored and why.
func TestSSHAuthorizedKeyWithOptions(t *testing.T) {
	var log testsupport.SyncBuffer
	addr, hostKey, srv := startSSH(t, func(s *SSH) { s.Log = &log })
	userKey, _, err := LoadOrMakeHostKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(userKey.PublicKey())))
	for _, opts := range []string{`from="10.9.9.9"`, `command="xstatus"`, "restrict", `no-pty,from="192.0.2.1"`} {
		t.Run(opts, func(t *testing.T) {
			if err := srv.Keys.(interface {
				SetAuthorizedKeys(string, []string) error
			}).SetAuthorizedKeys("admin", []string{opts + " " + line}); err != nil {
				t.Fatal(err)
			}
			c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
				User:            "admin",
				Auth:            []ssh.AuthMethod{ssh.PublicKeys(userKey)},
				HostKeyCallback: ssh.FixedHostKey(hostKey),
			})
			if err == nil {
				c.Close()
				t.Fatalf("a key with %s logged in without its restriction", opts)
			}
			if got := log.String(); !strings.Contains(got, "authorized key 1 of admin is ignored") || !strings.Contains(got, "options are not supported") {
				t.Errorf("console log does not name the ignored line:\n%s", got)
			}
		})
	}
}

func TestParseAuthorizedKey(t *testing.T) {
	userKey, _, err := LoadOrMakeHostKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(userKey.PublicKey())))
	tests := []struct {
		name, line string
		wantErr    error
	}{
		{"plain", line, nil},
		{"with comment", line + " ops@laptop", nil},
		{"from", `from="10.0.0.0/8" ` + line, ErrKeyOptions},
		{"command", `command="echo hi" ` + line, ErrKeyOptions},
		{"restrict", "restrict " + line, ErrKeyOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseAuthorizedKey(tt.line)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseAuthorizedKey = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(k.Marshal(), userKey.PublicKey().Marshal()) {
				t.Error("parsed the wrong key")
			}
		})
	}
	if _, err := ParseAuthorizedKey("ssh-ed25519 nope"); err == nil {
		t.Error("a broken key parsed")
	}
}
