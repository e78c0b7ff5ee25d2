package webui

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestCertMadeOnceAndKept(t *testing.T) {
	root := t.TempDir()
	c1, made, err := LoadOrMakeCert(root, "vx1", now)
	if err != nil || !made {
		t.Fatalf("first LoadOrMakeCert = %v, made %v", err, made)
	}
	c2, made, err := LoadOrMakeCert(root, "other", now)
	if err != nil || made {
		t.Fatalf("second LoadOrMakeCert = %v, made %v", err, made)
	}
	if string(c1.Certificate[0]) != string(c2.Certificate[0]) {
		t.Error("the certificate changed on the second boot")
	}
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "vx1" {
		t.Errorf("SAN %v, want [vx1]", leaf.DNSNames)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
	fi, err := os.Stat(filepath.Join(root, KeyPath))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	// An independent look at the certificate, when openssl is there.
	if openssl, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(openssl, "x509", "-in", filepath.Join(root, CertPath), "-noout", "-text").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, out)
		}
		for _, want := range []string{"DNS:vx1", "prime256v1", "TLS Web Server Authentication"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("openssl does not show %q:\n%s", want, out)
			}
		}
	}
}

func TestBrokenCertNotReplaced(t *testing.T) {
	root := t.TempDir()
	if _, _, err := LoadOrMakeCert(root, "vx1", now); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(root, KeyPath)
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	_, _, err := LoadOrMakeCert(root, "vx1", now)
	if err == nil || !strings.Contains(err.Error(), "remove") {
		t.Fatalf("LoadOrMakeCert over a broken key = %v, want an error saying what to remove", err)
	}
	if b, _ := os.ReadFile(keyFile); string(b) != "not a key" {
		t.Error("the broken key was overwritten")
	}
}

func TestStatusPageOverHTTPS(t *testing.T) {
	root := t.TempDir()
	cert, _, err := LoadOrMakeCert(root, "vx1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fail := false
	srv := NewServer(func() (Status, error) {
		if fail {
			return Status{}, errors.New("identity unreadable")
		}
		return Status{
			Product: "Cisco Expressway", Type: "Expressway-C", Hostname: "vx1", Serial: "0A1B2C3D",
			SoftwareVersion: "X14.2", Uptime: 90*time.Second + 400*time.Millisecond,
			Alarms: []Alarm{{ID: 40003, Description: "Default root password <in use>"}},
			Extra:  []Field{{"Smart Licensing", "Evaluation"}},
		}, nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go srv.Serve(l, cert)

	pemCert, err := os.ReadFile(filepath.Join(root, CertPath))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "vx1"}}}
	url := "https://" + l.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	for _, want := range []string{"Cisco Expressway", "Expressway-C", "vx1", "0A1B2C3D", "X14.2", "1m30s",
		"40003: Default root password &lt;in use&gt;", "Smart Licensing", "Evaluation"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", code)
	}
	fail = true
	if code, body := get("/"); code != http.StatusInternalServerError || !strings.Contains(body, "identity unreadable") {
		t.Errorf("GET / while status fails = %d %q", code, body)
	}
	// A client that does not trust the certificate is refused.
	if _, err := http.Get(url); err == nil {
		t.Error("a client without the certificate connected")
	}
}
