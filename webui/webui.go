// Package webui is the device's HTTPS server: a self-signed server
// certificate made on first boot and kept on data, and a small status page
// (product, host name, serial, software version, alarms).
package webui

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"vxway/atomicfile"
)

// The certificate files, below the root.
const (
	CertPath = "data/certs/server.crt"
	KeyPath  = "data/certs/server.key"
)

// CertValidity is how long a self-signed certificate is valid.
const CertValidity = 10 * 365 * 24 * time.Hour

// LoadOrMakeCert returns the server certificate in root's data/certs,
// making a self-signed ECDSA P-256 one for hostname (its subject
// alternative name) when there is none. It reports whether it made one.
func LoadOrMakeCert(root, hostname string, now time.Time) (tls.Certificate, bool, error) {
	certFile, keyFile := filepath.Join(root, CertPath), filepath.Join(root, KeyPath)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil {
		if !madeAsCA(cert) {
			return cert, false, nil
		}
		// Older software made its self-signed certificate a CA, which
		// could sign certificates for any name: it is replaced.
	} else {
		_, cerr := os.Stat(certFile)
		_, kerr := os.Stat(keyFile)
		if !errors.Is(cerr, fs.ErrNotExist) || !errors.Is(kerr, fs.ErrNotExist) {
			return tls.Certificate{}, false, fmt.Errorf("loading the server certificate %s: %w (remove %s and %s to make a new self-signed one)", certFile, err, certFile, keyFile)
		}
	}
	certPEM, keyPEM, err := SelfSigned(hostname, now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o755); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("making %s: %w", filepath.Dir(certFile), err)
	}
	// The key first: a certificate without its key is never left behind.
	if err := atomicfile.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, false, err
	}
	if err := atomicfile.WriteFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, false, err
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("using the new certificate: %w", err)
	}
	return cert, true, nil
}

// madeAsCA reports whether cert is a self-signed CA certificate, as
// earlier software made for the server; a certificate someone installed
// that was issued by another CA is left alone.
func madeAsCA(cert tls.Certificate) bool {
	if len(cert.Certificate) != 1 {
		return false
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return false
	}
	selfSigned := leaf.CheckSignatureFrom(leaf) == nil && bytes.Equal(leaf.RawIssuer, leaf.RawSubject)
	return selfSigned && (leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign != 0)
}

// SelfSigned makes a self-signed server certificate for hostname with a new
// ECDSA P-256 key and returns both PEM encoded. It is an end-entity
// certificate (not a CA, key usage digital signature, extended key usage
// server authentication): a client that chooses to trust it trusts this
// server and nothing it might sign.
func SelfSigned(hostname string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("making the server key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("making a certificate serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname},
		DNSNames:              []string{hostname},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CertValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the server certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the server key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return certPEM, keyPEM, nil
}

// Status is what the status page shows.
type Status struct {
	Product         string
	Type            string
	Hostname        string
	Serial          string
	SoftwareVersion string
	Uptime          time.Duration
	Alarms          []Alarm
	// Extra holds further lines other components add (for example the
	// Smart Licensing status), shown in order.
	Extra []Field
}

// Alarm is one raised alarm.
type Alarm struct {
	ID          int
	Description string
}

// Field is one labelled value.
type Field struct{ Name, Value string }

// Server serves the status page.
type Server struct {
	status func() (Status, error)
	page   *template.Template
}

// NewServer returns a server whose page shows what status gathers at each
// request.
func NewServer(status func() (Status, error)) *Server {
	return &Server{status: status, page: template.Must(template.New("status").Parse(pageHTML))}
}

const pageHTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Product}} {{.Hostname}}</title></head>
<body>
<h1>{{.Product}}</h1>
<table>
<tr><th>Type</th><td>{{.Type}}</td></tr>
<tr><th>Host name</th><td>{{.Hostname}}</td></tr>
<tr><th>Serial number</th><td>{{.Serial}}</td></tr>
<tr><th>Software version</th><td>{{.SoftwareVersion}}</td></tr>
<tr><th>Uptime</th><td>{{.Uptime.Round 1000000000}}</td></tr>
{{range .Extra}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<h2>Alarms</h2>
{{if .Alarms}}<ul>
{{range .Alarms}}<li>{{.ID}}: {{.Description}}</li>
{{end}}</ul>{{else}}<p>No alarms.</p>{{end}}
</body></html>
`

// ServeHTTP serves the status page at / and 404 elsewhere.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "only GET and HEAD are served here", http.StatusMethodNotAllowed)
		return
	}
	st, err := s.status()
	if err != nil {
		http.Error(w, "reading the device status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s.page.Execute(w, st)
}

// Serve serves HTTPS with cert on l until l closes.
func (s *Server) Serve(l net.Listener, cert tls.Certificate) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	err := hs.Serve(tls.NewListener(l, hs.TLSConfig))
	if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
