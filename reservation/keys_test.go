package reservation

import (
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

func certPEM(t *testing.T, pub, priv any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test manager CA"},
		NotBefore:             t0,
		NotAfter:              t0.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(&detReader{seed: "cert"}, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestParseKeySetPEM(t *testing.T) {
	m1, m2 := testSigner(t, "m1"), testSigner(t, "m2")
	ca := certPEM(t, m1.Public(), m1.key)
	spki, err := x509.MarshalPKIXPublicKey(m2.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	edPub, edPriv, _ := ed25519.GenerateKey(&detReader{seed: "ed"})
	edCA := certPEM(t, edPub, edPriv)

	ks, err := ParseKeySetPEM(ca, append(pubPEM, edCA...))
	if err != nil {
		t.Fatal(err)
	}
	if ks.Len() != 2 {
		t.Fatalf("key set has %d keys, want 2 (the ed25519 CA skipped)", ks.Len())
	}
	r := testRequest(t, udiA, "1")
	for _, s := range []*Signer{m1, m2} {
		a, err := s.IssuePLR(r.Code, false, t0)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := ParseAuthorizationCode(a.Text)
		if _, err := c.Verify(ks, udiA, r.Code); err != nil {
			t.Fatalf("code of a key from PEM: %v", err)
		}
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"nothing", nil, "no ECDSA P-256"},
		{"only ed25519", edCA, "no ECDSA P-256"},
		{"private key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), "want CERTIFICATE or PUBLIC KEY"},
		{"bad certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "reading manager certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseKeySetPEM(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseKeySetPEM = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewKeySet(nil); err == nil {
		t.Fatal("NewKeySet took a nil key")
	}
	if _, err := NewSigner(nil); err == nil {
		t.Fatal("NewSigner took a nil key")
	}
}

func TestCodeIDText(t *testing.T) {
	a := mustPLR(t)
	b, err := json.Marshal(map[string]CodeID{"id": a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"` + a.ID.String() + `"}`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	var back map[string]CodeID
	if err := json.Unmarshal(b, &back); err != nil || back["id"] != a.ID {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, s := range []string{"", "xyz", a.ID.String()[:62], a.ID.String() + "00"} {
		if _, err := ParseCodeID(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCodeID(%q) = %v", s, err)
		}
	}
}

// TestUnverifiedAuthorization: codes that must come from the device are
// made only for codes that verified.
func TestUnverifiedAuthorization(t *testing.T) {
	r := testRequest(t, udiA, "1")
	a := &Authorization{Kind: SLR, PIID: r.Code.PIID(), Issued: time.Now()}
	if _, err := r.Confirmation(a); err == nil {
		t.Error("confirmation code for an unverified authorization")
	}
	if _, err := r.ReturnCode(a, ReturnInstalled); err == nil {
		t.Error("return code for an unverified authorization")
	}
	other := mustIssueSLR(t, testSigner(t, "m1"), testRequest(t, udiA, "2"))
	if _, err := r.Confirmation(other); !errors.Is(err, ErrOtherRequest) {
		t.Errorf("confirmation code for another request's code: %v", err)
	}
	if _, err := r.ReturnCode(other, ReturnUninstalled); !errors.Is(err, ErrOtherRequest) {
		t.Errorf("return code for another request's code: %v", err)
	}
}
