package login

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestSSHShellRunsAsAccountUser: an account with a Credential gets its
// shell as that user and groups, with and without a terminal; an account
// without one runs as the server.
func TestSSHShellRunsAsAccountUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting a shell as another user needs root")
	}
	addr, hostKey, _ := startSSH(t, func(s *SSH) {
		for i := range s.Accounts {
			if s.Accounts[i].Name == "admin" {
				s.Accounts[i].Credential = &syscall.Credential{Uid: 4242, Gid: 4243, Groups: []uint32{4244}}
			}
		}
	})
	for _, tc := range []struct {
		name, user, password string
		pty                  bool
		want                 string
	}{
		{"admin exec", "admin", "adminpass1", false, "4242 4243 4243 4244"},
		{"admin pty", "admin", "adminpass1", true, "4242 4243 4243 4244"},
		{"root exec", "root", "rootpass1", false, "0 0 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(addr, hostKey, tc.user, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if tc.pty {
				if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
					t.Fatal(err)
				}
			}
			out, err := sess.CombinedOutput("echo $(id -u) $(id -g) $(id -G)")
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, tc.want) {
				t.Errorf("ids %q, want %q", got, tc.want)
			}
		})
	}
}
