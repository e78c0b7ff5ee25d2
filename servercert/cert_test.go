package servercert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
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
