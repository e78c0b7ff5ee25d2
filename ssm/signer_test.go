package ssm

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vxway/licproto"
)

// forgeAnswer signs an ok answer to req with key, sending chain: what a
// holder of another certificate of the manager CA could make.
func forgeAnswer(t *testing.T, req *licproto.Request, key *ecdsa.PrivateKey, chain [][]byte, now time.Time) []byte {
	t.Helper()
	ab, err := json.Marshal(&licproto.Answer{Version: licproto.Version, Type: req.Type, Nonce: req.Nonce, UDI: req.UDI,
		Timestamp: now.UnixMilli(), Status: licproto.StatusOK, Payload: json.RawMessage(`{"state":"authorized","licenses":[{"type":"rms","in_use":500,"state":"authorized"}]}`)})
	must(t, err)
	// The digest the protocol specifies for answers.
	sum := sha256.Sum256(append([]byte("vxway-licproto-answer-v1\n"), ab...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	must(t, err)
	b, err := json.Marshal(&licproto.SignedAnswer{Answer: ab, Signature: sig, Chain: chain})
	must(t, err)
	return b
}

// TestAnswerSignedByOtherCertificatesRefused: a device identity
// certificate the manager issued and its TLS server certificate are
// certificates of the manager CA too, but not for signing answers; a
// device refuses answers signed with them.
func TestAnswerSignedByOtherCertificatesRefused(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	d := m.device("0000A001")
	res, err := d.register(m.token("Default", 30, 0, true), false, "")
	must(t, err)
	pki, err := LoadPKI(m.dir)
	must(t, err)
	serverKey, ok := pki.Server.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("server key is %T", pki.Server.PrivateKey)
	}
	victim := m.device("0000A002")
	req, err := licproto.NewRequest(licproto.TypeAuthorize, victim.udi, &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: 500}}, t0, victim.key)
	must(t, err)
	for _, tc := range []struct {
		name  string
		key   *ecdsa.PrivateKey
		chain [][]byte
	}{
		{"device identity certificate", d.key, [][]byte{res.Certificate}},
		{"TLS server certificate", serverKey, [][]byte{pki.Server.Certificate[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := forgeAnswer(t, req, tc.key, tc.chain, t0)
			if _, err := m.verify.Verify(req, body, t0, 0); !errors.Is(err, licproto.ErrUntrustedAnswer) {
				t.Errorf("answer signed with the %s: %v, want %v", tc.name, err, licproto.ErrUntrustedAnswer)
			}
		})
	}
	// The manager's own signer passes the same check.
	if !licproto.IsAnswerSigner(pki.Signer) {
		t.Errorf("the manager's answer signing certificate lacks %s", licproto.AnswerSigningPolicy)
	}
	body := forgeAnswer(t, req, pki.SignerKey, [][]byte{pki.Signer.Raw}, t0)
	if _, err := m.verify.Verify(req, body, t0, 0); err != nil {
		t.Errorf("answer signed by the manager's signer: %v", err)
	}
}

// TestServeReissuesUnmarkedSigner starts the manager on a data directory
// whose answer signing certificate predates AnswerSigningPolicy: the
// manager reissues it at start, and devices accept its answers.
func TestServeReissuesUnmarkedSigner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	must(t, InitDir(dir, []string{"localhost", "127.0.0.1"}, t0))
	ca, err := readCert(filepath.Join(dir, CACertFile))
	must(t, err)
	caKey, err := readKey(filepath.Join(dir, CAKeyFile))
	must(t, err)
	oldKey, oldDER, err := issue(ca, caKey, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "vxway license manager answers"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(ServerLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	})
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, SignerKeyFile), keyPEM(oldKey), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, SignerCertFile), certPEM(oldDER), 0o644))

	m := startManagerWith(t, ServeOptions{Dir: dir, Mode: ModeOnPrem, RateLimit: -1})
	pki, err := LoadPKI(dir)
	must(t, err)
	if !licproto.IsAnswerSigner(pki.Signer) || pki.SignerKey.Equal(oldKey) {
		t.Fatalf("the signer was not reissued: policies %v", pki.Signer.Policies)
	}
	m.setup()
	if _, err := m.device("0000A003").register(m.token("Default", 30, 0, true), false, ""); err != nil {
		t.Errorf("registering with the reissued signer: %v", err)
	}
	// A second start keeps the reissued signer.
	again, err := EnsureSigner(dir, t0)
	must(t, err)
	if again {
		t.Errorf("a marked signer was reissued again")
	}
}
