package rootfs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"vxway/appconfig"
)

func TestWriteCPIORoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(src, []byte("binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := []Entry{
		{Kind: Symlink, Path: "/bin/xstatus", Target: "xcli"},
		{Kind: File, Path: "/bin/xcli", Mode: 0o755, Source: src},
		{Kind: File, Path: "/etc/vxway/image.json", Mode: 0o644, Data: []byte("{}")},
		{Kind: Dir, Path: "/tmp", Mode: 0o1777},
	}
	tm := time.Unix(1767225600, 0)
	var a, b bytes.Buffer
	if err := WriteCPIO(&a, in, tm); err != nil {
		t.Fatal(err)
	}
	// Input order must not matter.
	rev := []Entry{in[3], in[2], in[1], in[0]}
	if err := WriteCPIO(&b, rev, tm); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same entries in another order gave different archives")
	}
	got, err := ReadCPIO(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got {
		e.Source = ""
		lines = append(lines, e.String())
	}
	want := []string{
		"dir     /bin 0755",
		"file    /bin/xcli 0755 (6 bytes)",
		"symlink /bin/xstatus -> xcli",
		"dir     /etc 0755",
		"dir     /etc/vxway 0755",
		"file    /etc/vxway/image.json 0644 (2 bytes)",
		"dir     /tmp 1777",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("archive (-want +got):\n-%s\n+%s", strings.Join(want, "\n-"), strings.Join(lines, "\n+"))
	}
}

func TestSortErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
	}{
		{"duplicate", []Entry{{Kind: File, Path: "/a"}, {Kind: Dir, Path: "/a/"}}},
		{"relative", []Entry{{Kind: File, Path: "a"}}},
		{"file as parent", []Entry{{Kind: File, Path: "/a"}, {Kind: File, Path: "/a/b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Sort(tt.entries); err == nil {
				t.Errorf("Sort(%v) succeeded, want an error", tt.entries)
			}
		})
	}
}

func TestSalt(t *testing.T) {
	a, b := Salt("seed", "root"), Salt("seed", "admin")
	if a == b || a != Salt("seed", "root") || a == Salt("other", "root") {
		t.Errorf("salts not derived per seed and user: %s %s", a, b)
	}
	if len(a) != 16 || strings.Trim(a, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
		t.Errorf("salt %q is not 16 crypt characters", a)
	}
}

func TestFacts(t *testing.T) {
	dir := t.TempDir()
	c, err := appconfig.Parse([]byte(`version = 1
[system]
hostname = "gw1"
[users]
root_password = "TANDBERG"
admin_password = "secret"
[licensing]
direct_url = "https://lic.example/x"
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := Facts(c, time.Unix(1767225600, 0))
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal(entries[0].Data, &info); err != nil {
		t.Fatal(err)
	}
	if info["build_time"] != "2026-01-01T00:00:00Z" || info["hostname"] != "gw1" || info["software_version"] != "X14.2.0-vxway" || info["brand"] != "Expressway" || info["type"] != "Expressway-C" {
		t.Errorf("image.json = %v", info)
	}
	hashes := info["password_hashes"].(map[string]any)
	root := hashes["root"].(string)
	if !strings.HasPrefix(root, "$6$"+Salt("vxway", "root")+"$") || hashes["admin"] == root {
		t.Errorf("password hashes = %v", hashes)
	}
	if info["licensing"].(map[string]any)["direct_url"] != "https://lic.example/x" {
		t.Errorf("licensing = %v", info["licensing"])
	}

	// A trust file without a certificate is refused.
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a cert"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Licensing.TrustedCAFiles = []string{bad}
	if _, err := Facts(c, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Facts with a non-certificate trust file: err = %v", err)
	}
}

// TestFactsTrustStoreNames: a .crt trust file (what ssm init writes) is
// installed as .pem, the name the agent reads; its content is checked like
// a .pem file's.
func TestFactsTrustStoreNames(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, f := range []struct {
		name string
		data []byte
	}{{"ca.crt", cert}, {"other.pem", cert}, {"downloads.crt", cert}, {"bad.crt", []byte("not a cert")}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := appconfig.Parse([]byte(`version = 1
[users]
root_password = "TANDBERG"
admin_password = "TANDBERG"
[licensing]
direct_url = "https://lic.example/x"
trusted_ca_files = ["ca.crt", "other.pem"]
[upgrade]
trusted_ca_files = ["downloads.crt"]
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := Facts(c, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range entries {
		if strings.HasPrefix(e.Path, "/etc/vxway/") && strings.Contains(e.Path, "trust/") && e.Kind == File {
			got[e.Path] = bytes.Equal(e.Data, cert)
		}
	}
	// The upgrade downloads' CAs are a store of their own.
	want := map[string]bool{"/etc/vxway/trust/ca.pem": true, "/etc/vxway/trust/other.pem": true, "/etc/vxway/upgrade-trust/downloads.pem": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trust store files = %v, want %v", got, want)
	}
	c.Upgrade.TrustedCAFiles = []string{filepath.Join(dir, "bad.crt")}
	if _, err := Facts(c, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "upgrade download CA") || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Facts with a non-certificate upgrade CA file: err = %v", err)
	}
	c.Upgrade.TrustedCAFiles = nil
	c.Licensing.TrustedCAFiles = []string{filepath.Join(dir, "bad.crt")}
	if _, err := Facts(c, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Facts with a non-certificate .crt file: err = %v", err)
	}
}

func TestParseLdd(t *testing.T) {
	out := []byte(`	linux-vdso.so.1 (0x00007fff)
	libext2fs.so.2 => /lib/x86_64-linux-gnu/libext2fs.so.2 (0x00007f)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
	/lib64/ld-linux-x86-64.so.2 (0x00007f)
`)
	got, err := parseLdd(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "/lib/x86_64-linux-gnu/libext2fs.so.2 /lib/x86_64-linux-gnu/libc.so.6"
	if strings.Join(got, " ") != want {
		t.Errorf("parseLdd = %v, want %s", got, want)
	}
	if _, err := parseLdd([]byte("libfoo.so => not found\n")); err == nil {
		t.Error("parseLdd accepted a missing library")
	}
}

func TestNativeFilesMke2fs(t *testing.T) {
	const mke2fs = "/usr/sbin/mke2fs"
	if _, err := os.Stat(mke2fs); err != nil {
		t.Skip("e2fsprogs not installed")
	}
	entries, err := NativeFiles(context.Background(), mke2fs, "/sbin/mke2fs")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, e := range entries {
		paths[e.Path] = true
	}
	for _, p := range []string{"/sbin/mke2fs", "/lib64/ld-linux-x86-64.so.2"} {
		if !paths[p] {
			t.Errorf("NativeFiles lacks %s: %v", p, entries)
		}
	}
	if _, err := NativeFiles(context.Background(), "/nonexistent/mke2fs", "/sbin/mke2fs"); !errors.Is(err, ErrHostPackage) || !strings.Contains(err.Error(), "e2fsprogs") {
		t.Errorf("missing mke2fs: err = %v, want ErrHostPackage naming e2fsprogs", err)
	}
}

func TestCheckPrograms(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cmd/init"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cmd/init/main.go"), []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "cmd/xcli"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := CheckPrograms(dir, DevicePrograms())
	if !errors.Is(err, ErrMissingProgram) {
		t.Fatalf("CheckPrograms = %v, want ErrMissingProgram", err)
	}
	for _, want := range []string{"cmd/xcli", "cmd/smartagent", "cmd/factory-reset"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "cmd/init ") {
		t.Errorf("error names cmd/init, which exists: %v", err)
	}
}

func TestCompressDeterministic(t *testing.T) {
	b := bytes.Repeat([]byte("vxway initramfs "), 100000)
	x, err := Compress(b)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := Compress(b)
	if !bytes.Equal(x, y) || len(x) >= len(b)/10 {
		t.Errorf("Compress: %d and %d bytes from %d", len(x), len(y), len(b))
	}
}

// TestReadCPIODamaged gives the reader archives whose headers claim more
// than they hold: each is an error, and the reader's work stays in
// proportion to the archive (a header claiming a 1 GiB name made it
// allocate 1 GiB).
func TestReadCPIODamaged(t *testing.T) {
	var good bytes.Buffer
	if err := WriteCPIO(&good, []Entry{{Kind: File, Path: "/etc/motd", Mode: 0o644, Data: []byte("hello\n")}}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	header := func(fileSize, nameSize uint32) []byte {
		h := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 1, 0o100644, 0, 0, 1, 0, fileSize, 0, 0, 0, 0, nameSize, 0)
		return []byte(h + "etc\x00")
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"a 1 GiB name", header(0, 1<<30), "1073741824-byte name"},
		{"a 4 GiB file", header(0xffffffff, 4), "holds 4294967295 bytes"},
		{"cut in a file", good.Bytes()[:bytes.Index(good.Bytes(), []byte("hello\n"))+3], "holds 6 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = ReadCPIO(tt.b)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadCPIO: %v; want an error saying %q", err, tt.want)
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
				t.Errorf("reading a %d-byte archive allocated %d bytes", len(tt.b), a)
			}
		})
	}
	if es, err := ReadCPIO(good.Bytes()); err != nil || len(es) != 2 || string(es[1].Data) != "hello\n" {
		t.Errorf("ReadCPIO of a good archive = %+v, %v", es, err)
	}
}

// FuzzReadCPIO feeds arbitrary bytes to the archive reader `vxway inspect`
// uses on images it did not build: errors are fine, panics are not.
func FuzzReadCPIO(f *testing.F) {
	var b bytes.Buffer
	if err := WriteCPIO(&b, []Entry{
		{Kind: File, Path: "/etc/vxway/image.json", Mode: 0o644, Data: []byte("{}")},
		{Kind: Symlink, Path: "/bin/sh", Target: "gosh"},
	}, time.Unix(0, 0)); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadCPIO(data)
	})
}
