package login

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
)

// sftpServer starts the SSH server with root allowed SFTP into a fresh
// directory, and returns the address, host key check and directory.
func sftpServer(t *testing.T) (addr string, open func(user, password string) (*sftp.Client, error), dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data", "backup")
	addr, hostKey, _ := startSSH(t, func(s *SSH) {
		s.SFTPDir = dir
		for i := range s.Accounts {
			s.Accounts[i].SFTP = s.Accounts[i].Name == "root"
		}
	})
	open = func(user, password string) (*sftp.Client, error) {
		c, err := dial(addr, hostKey, user, password)
		if err != nil {
			return nil, err
		}
		sc, err := sftp.NewClient(c)
		if err != nil {
			c.Close()
			return nil, err
		}
		t.Cleanup(func() { sc.Close(); c.Close() })
		return sc, nil
	}
	return addr, open, dir
}

// TestSFTP: root puts a file, lists, reads it back and renames it, all
// inside the directory, which is "/" to the client; paths that climb out
// and symbolic links pointing out reach nothing outside; admin gets no
// SFTP.
func TestSFTP(t *testing.T) {
	_, open, dir := sftpServer(t)
	c, err := open("root", "rootpass1")
	if err != nil {
		t.Fatal(err)
	}
	if wd, err := c.Getwd(); err != nil || wd != "/" {
		t.Errorf("working directory %q, %v; want /", wd, err)
	}
	f, err := c.Create("archive.vxb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("backup bytes")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, err := os.ReadFile(filepath.Join(dir, "archive.vxb")); err != nil || string(b) != "backup bytes" {
		t.Fatalf("the file on the device: %q, %v", b, err)
	}
	if err := c.Rename("/archive.vxb", "/copy.vxb"); err != nil {
		t.Fatal(err)
	}
	ents, err := c.ReadDir("/")
	if err != nil || len(ents) != 1 || ents[0].Name() != "copy.vxb" {
		t.Fatalf("ReadDir = %v, %v", ents, err)
	}
	r, err := c.Open("../../copy.vxb") // climbs no higher than "/"
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "backup bytes" {
		t.Errorf("read back %q", b)
	}

	// Outside the directory.
	secret := filepath.Join(filepath.Dir(filepath.Dir(dir)), "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Open("link"); err == nil {
		b, _ := io.ReadAll(r)
		t.Errorf("read %q through a link out of the directory", b)
	}
	if _, err := c.Create("../../secret"); err != nil {
		t.Fatal(err) // lands inside as /secret
	}
	if b, _ := os.ReadFile(secret); string(b) != "secret" {
		t.Errorf("the file outside became %q", b)
	}
	if err := c.Symlink("/etc/passwd", "l2"); err == nil {
		t.Error("a symbolic link was made")
	}

	if _, err := open("admin", "adminpass1"); err == nil || !strings.Contains(err.Error(), "subsystem") && !errors.Is(err, io.EOF) {
		t.Errorf("admin's SFTP: %v, want a refusal", err)
	}
}

// TestSCP copies a file onto the server and back with the host's OpenSSH
// scp, which speaks SFTP.
func TestSCP(t *testing.T) {
	if _, err := exec.LookPath("scp"); err != nil {
		t.Skip("scp is not installed (openssh-client)")
	}
	addr, _, dir := sftpServer(t)
	host, port, _ := net.SplitHostPort(addr)
	tmp := t.TempDir()
	ask := filepath.Join(tmp, "askpass")
	if err := os.WriteFile(ask, []byte("#!/bin/sh\necho rootpass1\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	scp := func(from, to string) {
		t.Helper()
		cmd := exec.Command("scp", "-P", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "PreferredAuthentications=password", "-o", "LogLevel=ERROR", from, to)
		cmd.Env = append(os.Environ(), "SSH_ASKPASS="+ask, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scp %s %s: %v\n%s", from, to, err, out)
		}
	}
	src := filepath.Join(tmp, "a.vxb")
	if err := os.WriteFile(src, []byte("archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	scp(src, "root@"+host+":")
	if b, err := os.ReadFile(filepath.Join(dir, "a.vxb")); err != nil || string(b) != "archive" {
		t.Fatalf("on the server: %q, %v", b, err)
	}
	scp("root@"+host+":a.vxb", filepath.Join(tmp, "back.vxb"))
	if b, err := os.ReadFile(filepath.Join(tmp, "back.vxb")); err != nil || string(b) != "archive" {
		t.Fatalf("copied back: %q, %v", b, err)
	}
}
