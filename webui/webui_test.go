package webui

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
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
	if leaf.IsCA || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("IsCA %v, key usage %v; want an end-entity certificate for digital signature only", leaf.IsCA, leaf.KeyUsage)
	}
	checkWithOpenSSL(t, filepath.Join(root, CertPath))
}

// checkWithOpenSSL has openssl describe the certificate, when openssl is
// there, and checks it is an end-entity server certificate for vx1.
func checkWithOpenSSL(t *testing.T, certFile string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Logf("openssl is not installed: the certificate is not checked independently (%v)", err)
		return
	}
	out, err := exec.Command(openssl, "x509", "-in", certFile, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"DNS:vx1", "prime256v1", "TLS Web Server Authentication", "CA:FALSE", "Digital Signature"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl does not show %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"CA:TRUE", "Certificate Sign"} {
		if strings.Contains(text, bad) {
			t.Errorf("openssl shows %q:\n%s", bad, out)
		}
	}
}

// TestCACertReplaced puts a self-signed CA certificate where earlier
// software left one and checks that the start replaces it with an
// end-entity certificate.
func TestCACertReplaced(t *testing.T) {
	root := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vx1"},
		DNSNames:              []string{"vx1"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CertValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "data/certs"), 0o755)
	os.WriteFile(filepath.Join(root, CertPath), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(root, KeyPath), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)

	cert, made, err := LoadOrMakeCert(root, "vx1", now)
	if err != nil || !made {
		t.Fatalf("LoadOrMakeCert over a CA certificate = %v, made %v; want a new certificate", err, made)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("the replacement is a CA: IsCA %v, key usage %v", leaf.IsCA, leaf.KeyUsage)
	}
	checkWithOpenSSL(t, filepath.Join(root, CertPath))
	if _, made, err := LoadOrMakeCert(root, "vx1", now); err != nil || made {
		t.Errorf("LoadOrMakeCert after the replacement = %v, made %v; want the new one kept", err, made)
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

// startServer serves HTTPS with a new certificate for vx1 on loopback and
// returns its address and a client that trusts the certificate.
func startServer(t *testing.T, srv *Server) (string, *tls.Config) {
	t.Helper()
	root := t.TempDir()
	cert, _, err := LoadOrMakeCert(root, "vx1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go srv.Serve(l, cert)
	pemCert, err := os.ReadFile(filepath.Join(root, CertPath))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	return l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "vx1"}
}

// TestIdleConnectionClosed keeps a connection open after one request and
// checks that the server closes it after the idle timeout instead of
// holding it (and a file descriptor of init) for ever.
func TestIdleConnectionClosed(t *testing.T) {
	srv := New(Options{Root: t.TempDir(), Licensing: newFakeLicensing()})
	srv.Limits = Limits{IdleTimeout: 200 * time.Millisecond, ReadHeaderTimeout: 200 * time.Millisecond}
	addr, tlsConfig := startServer(t, srv)

	t.Run("after a request", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, tlsConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: vx1\r\n\r\n")
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			t.Fatal("the server closed after one request; the test needs keep-alive")
		}
		expectClosed(t, c, r)
	})
	t.Run("before the handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		expectClosed(t, c, bufio.NewReader(c))
	})
}

// expectClosed waits up to 10 s for the server to close c.
func expectClosed(t *testing.T, c net.Conn, r io.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server held an idle connection for 10s")
	}
}

// TestConnectionLimit opens as many connections as the limit allows and
// checks that one more is closed at once, and that a slot comes back when
// a connection ends.
func TestConnectionLimit(t *testing.T) {
	srv := New(Options{Root: t.TempDir(), Licensing: newFakeLicensing()})
	srv.Limits = Limits{MaxConns: 2}
	addr, tlsConfig := startServer(t, srv)
	var held []*tls.Conn
	for range 2 {
		c, err := tls.Dial("tcp", addr, tlsConfig)
		if err != nil {
			t.Fatalf("connection within the limit: %v", err)
		}
		defer c.Close()
		held = append(held, c)
	}
	if c, err := tls.Dial("tcp", addr, tlsConfig); err == nil {
		c.Close()
		t.Fatal("a third connection was served over the limit of 2")
	}
	held[0].Close()
	var err error
	for range 100 { // the server sees the close a moment later
		var c *tls.Conn
		if c, err = tls.Dial("tcp", addr, tlsConfig); err == nil {
			c.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the slot of a closed connection did not come back: %v", err)
	}
}
