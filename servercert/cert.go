package servercert

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
	"io/fs"
	"math/big"
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
