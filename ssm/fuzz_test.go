package ssm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"testing"

	"vxway/clock"
	"vxway/licproto"
)

// FuzzHandle feeds arbitrary request bodies to the manager: every one is
// refused with a signed answer and nothing is written.
func FuzzHandle(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "m")
	if err := InitDir(dir, []string{"localhost"}, t0); err != nil {
		f.Fatal(err)
	}
	pki, err := LoadPKI(dir)
	if err != nil {
		f.Fatal(err)
	}
	s, err := OpenStore(context.Background(), filepath.Join(dir, DBFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, err := range []error{s.CreateAccount(ctx, "A", t0), s.CreateVA(ctx, "A", "V", t0)} {
		if err != nil {
			f.Fatal(err)
		}
	}
	tok, _, err := s.CreateToken(ctx, "V", TokenOptions{}, t0)
	if err != nil {
		f.Fatal(err)
	}
	m, err := NewManager(s, pki, clock.NewFake(t0), nil)
	if err != nil {
		f.Fatal(err)
	}
	// Seeds: well-formed requests signed by a key the manager does not
	// know, or for tokens it does not have.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, r := range []struct {
		t licproto.Type
		p any
		k *ecdsa.PrivateKey
	}{
		{licproto.TypeRegister, &licproto.RegisterPayload{Token: tok, PublicKey: pub}, other},
		{licproto.TypeRegister, &licproto.RegisterPayload{Token: "not-a-token-here", PublicKey: pub}, key},
		{licproto.TypeAuthorize, &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: 1}}, key},
		{licproto.TypeDeregister, &licproto.DeregisterPayload{}, key},
	} {
		req, err := licproto.NewRequest(r.t, "UDI_PID:Expressway; UDI_SN:1; UDI_VID:1.0;", r.p, t0, r.k)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := req.Marshal()
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, status := m.Handle(ctx, body)
		if status < 400 {
			t.Fatalf("HTTP %d for a request no valid key signed", status)
		}
		var sa licproto.SignedAnswer
		if err := json.Unmarshal(out, &sa); err != nil || len(sa.Signature) == 0 {
			t.Fatalf("refusal is not a signed answer: %s", out)
		}
		list, err := s.Instances(ctx, "")
		if err != nil || len(list) != 0 {
			t.Fatalf("instances after a refused request: %v %v", list, err)
		}
	})
}
