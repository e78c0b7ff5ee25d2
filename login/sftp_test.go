package login

import (
	"errors"
	"io"
	"os"
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
