package upgrade

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vxway/platform"
)

// testCA is a CA that signs server certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverCert is a certificate of the CA for the given IP addresses and
// DNS names.
func (ca *testCA) serverCert(t *testing.T, ips []net.IP, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "bundles"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: ips, DNSNames: names, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestDownloadHTTPS fetches a bundle from an HTTPS server on loopback
// with the device's upgrade trust store: a server whose CA is there is
// downloaded from; without a store, with another CA, or with a
// certificate for another host, nothing is fetched nor kept.
func TestDownloadHTTPS(t *testing.T) {
	ca := newTestCA(t, "bundle server CA")
	other := newTestCA(t, "another CA")
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	body := strings.Repeat("bundle bytes ", 1000)
	for _, tt := range []struct {
		name string
		// store is the trust store's files (name -> contents); nil: none.
		store   map[string][]byte
		cert    tls.Certificate
		wantErr error
		say     string // in the error
		served  bool   // the server sees the request
	}{
		{name: "trusted CA", store: map[string][]byte{"ca.pem": ca.pem}, cert: ca.serverCert(t, loopback), served: true},
		{name: "trusted among others", store: map[string][]byte{"a.pem": other.pem, "b.pem": ca.pem}, cert: ca.serverCert(t, loopback), served: true},
		{name: "no trust store", cert: ca.serverCert(t, loopback), wantErr: ErrNoDownloadTrust, say: "[upgrade] trusted_ca_files"},
		{name: "other CA", store: map[string][]byte{"ca.pem": other.pem}, cert: ca.serverCert(t, loopback), wantErr: ErrUntrustedServer, say: "/etc/vxway/upgrade-trust"},
		{name: "another host's certificate", store: map[string][]byte{"ca.pem": ca.pem}, cert: ca.serverCert(t, nil, "bundles.example"), wantErr: ErrUntrustedServer, say: "127.0.0.1"},
		{name: "not a certificate", store: map[string][]byte{"ca.pem": []byte("not PEM")}, cert: ca.serverCert(t, loopback), say: "ca.pem holds no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, DownloadDir), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range tt.store {
				p := filepath.Join(root, platform.UpgradeTrustDir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var requests atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Write([]byte(body))
			}))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{tt.cert}}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.StartTLS()
			defer srv.Close()

			p, err := Download(context.Background(), root, srv.URL+"/vxway-2.vxu", time.Minute)
			if tt.wantErr == nil && tt.say == "" {
				if err != nil {
					t.Fatalf("Download = %v", err)
				}
				b, err := os.ReadFile(p)
				if err != nil || string(b) != body {
					t.Errorf("downloaded %d bytes (%v), want the %d served", len(b), err, len(body))
				}
			} else {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.say) {
					t.Fatalf("Download = %v, want %v saying %q", err, tt.wantErr, tt.say)
				}
				left, _ := os.ReadDir(filepath.Join(root, DownloadDir))
				if len(left) > 0 {
					t.Errorf("a refused download left %d files in %s", len(left), DownloadDir)
				}
			}
			if got := requests.Load() > 0; got != tt.served {
				t.Errorf("server saw a request: %v, want %v", got, tt.served)
			}
		})
	}
}

// TestURLPasswordNotShown: a password in the bundle's URL reaches neither
// the progress lines nor the errors, whether the URL is refused or the
// download fails.
func TestURLPasswordNotShown(t *testing.T) {
	td := newDevice(t)
	var log bytes.Buffer
	td.dev.Log = &log
	for _, u := range []string{
		"http://admin:s3cret-pw@127.0.0.1:1/vxway-2.vxu",  // nothing listens
		"ftp://admin:s3cret-pw@127.0.0.1/vxway-2.vxu",     // refused
		"https://admin:s3cret-pw@127.0.0.1:1/vxway-2.vxu", // no trust store
	} {
		_, _, err := td.dev.InstallURL(context.Background(), u, Options{})
		if err == nil {
			t.Fatalf("%s: installed", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", u, err)
		}
	}
	if strings.Contains(log.String(), "s3cret") || !strings.Contains(log.String(), "admin:xxxxx@127.0.0.1") {
		t.Errorf("progress lines:\n%s", log.String())
	}
}
