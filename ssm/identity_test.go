package ssm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestIdentityCertificate(t *testing.T) {
	udi := "UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;"
	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"utctime", t0},
		{"generalizedtime after 2050", time.Date(2049, 6, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, InitDir(dir, []string{"localhost"}, tc.now))
			pki, err := LoadPKI(dir)
			must(t, err)
			roots := x509.NewCertPool()
			roots.AddCert(pki.CA)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, serial, notAfter, err := pki.IssueIdentity(&key.PublicKey, udi, "Acme", "Default", tc.now)
			must(t, err)
			c, err := x509.ParseCertificate(der)
			must(t, err)
			if c.Version != 3 || c.SerialNumber.Text(16) != serial || c.Subject.CommonName != udi[:min(64, len(udi))] ||
				c.Subject.Organization[0] != "Acme" || c.Subject.OrganizationalUnit[0] != "Default" {
				t.Errorf("certificate fields: v%d serial %s subject %v", c.Version, c.SerialNumber.Text(16), c.Subject)
			}
			if !c.NotAfter.Equal(notAfter) || !c.NotAfter.Equal(tc.now.Add(IdentityLifetime).Truncate(time.Second)) || c.NotBefore.After(tc.now) {
				t.Errorf("validity %s..%s", c.NotBefore, c.NotAfter)
			}
			if c.KeyUsage != x509.KeyUsageDigitalSignature || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("key usage %v %v", c.KeyUsage, c.ExtKeyUsage)
			}
			if !bytes.Equal(c.AuthorityKeyId, pki.CA.SubjectKeyId) || len(c.AuthorityKeyId) == 0 {
				t.Errorf("authority key id %x, CA subject key id %x", c.AuthorityKeyId, pki.CA.SubjectKeyId)
			}
			if !c.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
				t.Errorf("public key differs")
			}
			if err := c.CheckSignatureFrom(pki.CA); err != nil {
				t.Errorf("signature: %v", err)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: tc.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("chain: %v", err)
			}
			// An independent check.
			if _, err := exec.LookPath("openssl"); err != nil {
				t.Log("openssl not installed; skipping its check")
				return
			}
			crt := filepath.Join(t.TempDir(), "id.crt")
			must(t, os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
			out, err := exec.Command("openssl", "verify", "-attime", itoa(tc.now.Unix()), "-purpose", "sslclient", "-CAfile", filepath.Join(dir, CACertFile), crt).CombinedOutput()
			if err != nil {
				t.Errorf("openssl verify: %v\n%s", err, out)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
