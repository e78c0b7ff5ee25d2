// Package webui is the device's HTTPS server: a self-signed server
// certificate made on first boot and kept on data, and a page that names
// the product and says where the device is administered. It shows nothing
// else about the device, since nobody signs in to it.
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
	"io"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
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

// Limits bound what clients can make the server hold; zero fields take
// the DefaultLimits value.
type Limits struct {
	// MaxConns is how many connections are open at once; further ones are
	// closed as soon as they are accepted.
	MaxConns int
	// ReadHeaderTimeout bounds the TLS handshake and a request's headers,
	// ReadTimeout the whole request, WriteTimeout the answer, IdleTimeout
	// a kept-alive connection between requests.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
}

// DefaultLimits are the device's.
var DefaultLimits = Limits{
	MaxConns:          64,
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       60 * time.Second,
	MaxHeaderBytes:    16 << 10,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxConns > 0 {
		d.MaxConns = l.MaxConns
	}
	if l.ReadHeaderTimeout > 0 {
		d.ReadHeaderTimeout = l.ReadHeaderTimeout
	}
	if l.ReadTimeout > 0 {
		d.ReadTimeout = l.ReadTimeout
	}
	if l.WriteTimeout > 0 {
		d.WriteTimeout = l.WriteTimeout
	}
	if l.IdleTimeout > 0 {
		d.IdleTimeout = l.IdleTimeout
	}
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	return d
}

// Server serves the page at /. Nobody signs in to it yet, so it tells a
// visitor nothing about the device beyond the product's name (no serial
// number, host name, version or alarms: those would tell an attacker which
// device this is and that, say, the default password is still set), and
// says where the device is administered.
type Server struct {
	product func() string
	page    *template.Template
	// Limits; the zero value means DefaultLimits.
	Limits Limits
	// FIPS restricts TLS to approved algorithms (FIPS 140 mode).
	FIPS bool
}

// NewServer returns a server whose page names the product that product
// reports at each request.
func NewServer(product func() string) *Server {
	return &Server{product: product, page: template.Must(template.New("page").Parse(pageHTML))}
}

const pageHTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.}}</title></head>
<body>
<h1>{{.}}</h1>
<p>This device is administered on its console and over SSH: sign in as
admin for the xAPI shell (xstatus, xconfiguration, xcommand).</p>
</body></html>
`

// ServeHTTP serves the page at / and 404 elsewhere.
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
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	s.page.Execute(w, s.product())
}

// Serve serves HTTPS with cert on l until l closes.
func (s *Server) Serve(l net.Listener, cert tls.Certificate) error {
	lim := s.Limits.withDefaults()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		TLSConfig:         s.tlsConfig(cert),
		// Handshake failures and the like are a stranger's doing; they
		// would flood the console.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	err := hs.Serve(tls.NewListener(newLimitListener(l, lim.MaxConns), hs.TLSConfig))
	if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// limitListener closes a connection as soon as it is accepted when max
// are already open, so that idle clients cannot take every file
// descriptor of the process (init, which also serves SSH and the console).
// Unlike a listener that stops accepting, it does not leave a full
// backlog in front of the clients that would be served.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, max)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			c.Close()
		}
	}
}

// limitConn gives its slot back once, when closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
