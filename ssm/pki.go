package ssm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vxway/atomicfile"
	"vxway/licproto"
)

// Files of a data directory.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
	SignerCertFile = "signer.crt"
	SignerKeyFile  = "signer.key"
	AdminTokenFile = "admin.token"
	DBFile         = "ssm.db"
)

// Certificate lifetimes.
const (
	CALifetime       = 20 * 365 * 24 * time.Hour
	ServerLifetime   = 5 * 365 * 24 * time.Hour
	IdentityLifetime = 365 * 24 * time.Hour
)

// PKI is the manager's certificate authority and keys, loaded from a data
// directory.
type PKI struct {
	CA         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	Server     tls.Certificate
	Signer     *x509.Certificate
	SignerKey  *ecdsa.PrivateKey
	AdminToken string
}

// InitDir creates a data directory: CA, server certificate for sans (DNS
// names or IP addresses), answer signing key and certificate, and the admin
// API token. It refuses a directory that already holds a CA.
func InitDir(dir string, sans []string, now time.Time) error {
	if len(sans) == 0 {
		return fmt.Errorf("%w: give at least one server name or IP with --san", ErrInvalid)
	}
	var dns []string
	var ips []net.IP
	for _, n := range sans {
		n = strings.TrimSpace(n)
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if n == "" || len(n) > 253 || strings.ContainsAny(n, " /:@") {
			return fmt.Errorf("%w: server name %q is not a DNS name or IP address", ErrInvalid, n)
		}
		dns = append(dns, n)
	}
	if _, err := os.Stat(filepath.Join(dir, CACertFile)); err == nil {
		return fmt.Errorf("%w: %s already holds a manager CA; use another directory", ErrExists, dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("making CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: randSerial(), Subject: pkix.Name{CommonName: "vxway license manager CA", Organization: []string{"vxway"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(CALifetime),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("making CA certificate: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	cn := "vxway license manager"
	if len(dns) > 0 {
		cn = dns[0]
	}
	srvKey, srvDER, err := issue(ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, DNSNames: dns, IPAddresses: ips,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(ServerLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("making server certificate: %w", err)
	}
	sigKey, sigDER, err := issue(ca, caKey, signerTemplate(now))
	if err != nil {
		return fmt.Errorf("making answer signing certificate: %w", err)
	}
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return fmt.Errorf("making admin token: %w", err)
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{CAKeyFile, keyPEM(caKey), 0o600},
		{ServerKeyFile, keyPEM(srvKey), 0o600},
		{SignerKeyFile, keyPEM(sigKey), 0o600},
		{AdminTokenFile, []byte(hex.EncodeToString(tok[:]) + "\n"), 0o600},
		{ServerCertFile, append(certPEM(srvDER), certPEM(caDER)...), 0o644},
		{SignerCertFile, certPEM(sigDER), 0o644},
		// The CA certificate last: its presence marks a complete directory.
		{CACertFile, certPEM(caDER), 0o644},
	}
	for _, f := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

// signerTemplate is the answer signing certificate: an end entity for
// digital signatures, marked with licproto.AnswerSigningPolicy, which the
// device requires of the certificate that signs answers.
func signerTemplate(now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:   pkix.Name{CommonName: "vxway license manager answers"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(ServerLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
		Policies: []x509.OID{licproto.AnswerSigningPolicy},
	}
}

// EnsureSigner reissues the answer signing key and certificate of the data
// directory dir when the certificate lacks licproto.AnswerSigningPolicy (a
// directory made before devices required it), does not match its key, or
// has expired; it reports whether it did. The key is written before the
// certificate, so an interrupted reissue leaves a mismatch that the next
// start repairs.
func EnsureSigner(dir string, now time.Time) (bool, error) {
	cert, err := readCert(filepath.Join(dir, SignerCertFile))
	if err != nil {
		return false, err
	}
	key, err := readKey(filepath.Join(dir, SignerKeyFile))
	if err != nil {
		return false, err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if ok && pub.Equal(&key.PublicKey) && licproto.IsAnswerSigner(cert) && now.Before(cert.NotAfter) {
		return false, nil
	}
	ca, err := readCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return false, err
	}
	caKey, err := readKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return false, err
	}
	sigKey, sigDER, err := issue(ca, caKey, signerTemplate(now))
	if err != nil {
		return false, fmt.Errorf("reissuing the answer signing certificate: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SignerKeyFile), keyPEM(sigKey), 0o600); err != nil {
		return false, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SignerCertFile), certPEM(sigDER), 0o644); err != nil {
		return false, err
	}
	return true, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*ecdsa.PrivateKey, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = randSerial()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	return k, der, err
}

func keyPEM(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an ECDSA P-256 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// LoadPKI reads the CA, server and signing material from dir.
func LoadPKI(dir string) (*PKI, error) {
	if _, err := os.Stat(filepath.Join(dir, CACertFile)); err != nil {
		return nil, fmt.Errorf("%s is not a manager data directory (run: ssm init --data %s --san NAME): %w", dir, dir, err)
	}
	p := &PKI{}
	var err error
	if p.CA, err = readCert(filepath.Join(dir, CACertFile)); err != nil {
		return nil, err
	}
	if p.caKey, err = readKey(filepath.Join(dir, CAKeyFile)); err != nil {
		return nil, err
	}
	if p.Signer, err = readCert(filepath.Join(dir, SignerCertFile)); err != nil {
		return nil, err
	}
	if p.SignerKey, err = readKey(filepath.Join(dir, SignerKeyFile)); err != nil {
		return nil, err
	}
	if p.Server, err = tls.LoadX509KeyPair(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile)); err != nil {
		return nil, fmt.Errorf("loading server certificate: %w", err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		return nil, fmt.Errorf("reading admin token: %w", err)
	}
	p.AdminToken = strings.TrimSpace(string(tok))
	if len(p.AdminToken) < 32 {
		return nil, fmt.Errorf("admin token in %s is shorter than 32 characters", filepath.Join(dir, AdminTokenFile))
	}
	return p, nil
}

func readCert(p string) (*x509.Certificate, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", p)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", p, err)
	}
	return c, nil
}

func readKey(p string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s holds no PEM private key", p)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", p, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s is not an ECDSA key", p)
	}
	return ek, nil
}

// IssueIdentity issues a device identity certificate for pub, valid one
// year from now, naming the UDI and the accounts. It returns the DER
// certificate, its serial (hex) and its expiry.
func (p *PKI) IssueIdentity(pub *ecdsa.PublicKey, udi, smartAccount, virtualAccount string, now time.Time) ([]byte, string, time.Time, error) {
	cn := udi
	if len(cn) > 64 {
		cn = cn[:64]
	}
	serial := randSerial()
	notAfter := now.Add(IdentityLifetime).UTC().Truncate(time.Second)
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("encoding public key of %s: %w", udi, err)
	}
	subject := pkix.Name{CommonName: cn, Organization: []string{truncate(smartAccount, 64)},
		OrganizationalUnit: []string{truncate(virtualAccount, 64)}}
	der, err := identityDER(p.CA, p.caKey, spki, serial, subject, now.Add(-5*time.Minute), notAfter)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("issuing identity certificate for %s: %w", udi, err)
	}
	return der, serial.Text(16), notAfter, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
