package licproto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type testPKI struct {
	roots  *x509.CertPool
	signer *Signer
	devKey *ecdsa.PrivateKey
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub, priv any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPKI makes a CA and an answer signing certificate issued by it.
func newPKI(t testing.TB, signIsCA bool) *testPKI {
	t.Helper()
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	ca := mustCert(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	sKey := mustKey(t)
	sTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "answers"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(5 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: signIsCA, Policies: []x509.OID{AnswerSigningPolicy}}
	sc := mustCert(t, sTmpl, ca, &sKey.PublicKey, caKey)
	signer, err := NewSigner(sKey, [][]byte{sc.Raw})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{roots: pool, signer: signer, devKey: mustKey(t)}
}

const udi = "UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;"

func pubDER(t testing.TB, k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	p := newPKI(t, false)
	for _, tc := range []struct {
		name    string
		typ     Type
		payload any
		result  any
		decoded any
	}{
		{"register", TypeRegister, &RegisterPayload{Token: "tok-abcdefghijklmnop", PublicKey: pubDER(t, p.devKey), Hostname: "vcs1.example.com", IP: "192.0.2.10"},
			&RegisterResult{Certificate: []byte{1, 2, 3}, SmartAccount: "Acme", VirtualAccount: "Default", ExportControlled: true}, &RegisterPayload{}},
		{"renew", TypeRenewRegistration, &RenewRegistrationPayload{Hostname: "vcs2"}, &RegisterResult{SmartAccount: "Acme"}, &RenewRegistrationPayload{}},
		{"authorize", TypeAuthorize, &AuthorizePayload{Usage: map[LicenseType]int{RMS: 3, Room: 1}},
			&AuthorizeResult{State: StateAuthorized, Licenses: []LicenseResult{{RMS, 3, StateAuthorized}}}, &AuthorizePayload{}},
		{"deregister", TypeDeregister, &DeregisterPayload{}, &DeregisterResult{}, &DeregisterPayload{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := NewRequest(tc.typ, udi, tc.payload, t0, p.devKey)
			if err != nil {
				t.Fatal(err)
			}
			body, err := req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseRequest(body)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.VerifySignature(&p.devKey.PublicKey); err != nil {
				t.Fatal(err)
			}
			if err := got.DecodePayload(tc.decoded); err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tc.payload)
			have, _ := json.Marshal(tc.decoded)
			if string(want) != string(have) {
				t.Errorf("payload (-want +got):\n-%s\n+%s", want, have)
			}
			ans, status, err := p.signer.Answer(got, t0.Add(2*time.Second), tc.result, nil)
			if err != nil || status != 200 {
				t.Fatalf("Answer: %d %v", status, err)
			}
			v, err := NewVerifier(p.roots).Verify(req, ans, t0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if v.Err() != nil || v.Skew != 2*time.Second {
				t.Errorf("answer err %v skew %v", v.Err(), v.Skew)
			}
			want, _ = json.Marshal(tc.result)
			if string(v.Payload) != string(want) {
				t.Errorf("result (-want +got):\n-%s\n+%s", want, v.Payload)
			}
		})
	}
}

func TestErrorAnswerKeepsCode(t *testing.T) {
	p := newPKI(t, false)
	for _, sentinel := range []*Error{ErrTokenExpired, ErrTokenUsedUp, ErrTokenRevoked, ErrUnknownToken, ErrNotRegistered, ErrBadSignature, ErrReplay} {
		t.Run(string(sentinel.Code), func(t *testing.T) {
			req, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0, p.devKey)
			if err != nil {
				t.Fatal(err)
			}
			ans, status, err := p.signer.Answer(req, t0, nil, Errorf(sentinel.Code, "because %s", sentinel.Code))
			if err != nil {
				t.Fatal(err)
			}
			if status < 400 {
				t.Errorf("status %d for an error", status)
			}
			v, err := NewVerifier(p.roots).Verify(req, ans, t0, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := v.Err()
			if !errors.Is(got, sentinel) {
				t.Errorf("errors.Is(%v, %s) = false", got, sentinel.Code)
			}
			if errors.Is(got, ErrInternal) {
				t.Errorf("%v matches an unrelated code", got)
			}
			if !strings.Contains(got.Error(), "because") {
				t.Errorf("message lost: %q", got.Error())
			}
		})
	}
}

func TestParseRequestRejects(t *testing.T) {
	p := newPKI(t, false)
	good, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{Usage: map[LicenseType]int{RMS: 1}}, t0, p.devKey)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(m map[string]any)) []byte {
		b, _ := json.Marshal(good)
		var m map[string]any
		json.Unmarshal(b, &m)
		f(m)
		b, _ = json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name string
		body []byte
		code Code
	}{
		{"not json", []byte("hello"), CodeBadRequest},
		{"empty", nil, CodeBadRequest},
		{"too large", []byte(`{"x":"` + strings.Repeat("a", MaxBody) + `"}`), CodeTooLarge},
		{"trailing", append(mod(func(map[string]any) {}), []byte(" {}")...), CodeBadRequest},
		{"unknown field", mod(func(m map[string]any) { m["extra"] = 1 }), CodeBadRequest},
		{"version", mod(func(m map[string]any) { m["version"] = 2 }), CodeBadRequest},
		{"type", mod(func(m map[string]any) { m["type"] = "grant_everything" }), CodeBadRequest},
		{"short nonce", mod(func(m map[string]any) { m["nonce"] = "abc" }), CodeBadRequest},
		{"nonce chars", mod(func(m map[string]any) { m["nonce"] = strings.Repeat("!", NonceLen) }), CodeBadRequest},
		{"no timestamp", mod(func(m map[string]any) { delete(m, "timestamp") }), CodeBadRequest},
		{"empty udi", mod(func(m map[string]any) { m["udi"] = "" }), CodeBadRequest},
		{"long udi", mod(func(m map[string]any) { m["udi"] = strings.Repeat("U", MaxUDI+1) }), CodeBadRequest},
		{"control udi", mod(func(m map[string]any) { m["udi"] = "a\nb" }), CodeBadRequest},
		{"payload array", mod(func(m map[string]any) { m["payload"] = []int{1} }), CodeBadRequest},
		{"payload big", mod(func(m map[string]any) { m["payload"] = map[string]string{"x": strings.Repeat("a", MaxPayload)} }), CodeTooLarge},
		{"unsigned", mod(func(m map[string]any) { m["signature"] = "" }), CodeBadSignature},
		{"sig not base64", mod(func(m map[string]any) { m["signature"] = "!!!" }), CodeBadRequest},
		{"sig too long", mod(func(m map[string]any) { m["signature"] = base64.StdEncoding.EncodeToString(make([]byte, 200)) }), CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest(tc.body)
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("ParseRequest = %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestSignatureRejects(t *testing.T) {
	p := newPKI(t, false)
	other := mustKey(t)
	for _, tc := range []struct {
		name   string
		mutate func(r *Request)
		key    *ecdsa.PublicKey
	}{
		{"other key", func(*Request) {}, &other.PublicKey},
		{"payload changed", func(r *Request) { r.Payload = []byte(`{"usage":{"rms":0}}`) }, nil},
		{"nonce changed", func(r *Request) { r.Nonce = strings.Repeat("A", NonceLen) }, nil},
		{"timestamp changed", func(r *Request) { r.Timestamp++ }, nil},
		{"udi changed", func(r *Request) { r.UDI += "x" }, nil},
		{"type changed", func(r *Request) { r.Type = TypeDeregister }, nil},
		{"garbage signature", func(r *Request) { r.Signature = base64.StdEncoding.EncodeToString([]byte{0x30, 1, 2}) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{Usage: map[LicenseType]int{RMS: 5}}, t0, p.devKey)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(r)
			key := tc.key
			if key == nil {
				key = &p.devKey.PublicKey
			}
			if err := r.VerifySignature(key); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifySignature = %v, want bad_signature", err)
			}
		})
	}
}

func TestPayloadRejects(t *testing.T) {
	p := newPKI(t, false)
	pk := pubDER(t, p.devKey)
	rsaish := append([]byte{}, pk...)
	rsaish[len(rsaish)-1] ^= 0xff
	for _, tc := range []struct {
		name    string
		typ     Type
		payload any
		into    any
	}{
		{"blank token", TypeRegister, &RegisterPayload{Token: "", PublicKey: pk}, &RegisterPayload{}},
		{"spaces token", TypeRegister, &RegisterPayload{Token: "ab cd", PublicKey: pk}, &RegisterPayload{}},
		{"long token", TypeRegister, &RegisterPayload{Token: strings.Repeat("t", MaxToken+1), PublicKey: pk}, &RegisterPayload{}},
		{"no key", TypeRegister, &RegisterPayload{Token: "tok"}, &RegisterPayload{}},
		{"bad key", TypeRegister, &RegisterPayload{Token: "tok", PublicKey: []byte("nope")}, &RegisterPayload{}},
		{"off-curve key", TypeRegister, &RegisterPayload{Token: "tok", PublicKey: rsaish}, &RegisterPayload{}},
		{"bad hostname", TypeRegister, &RegisterPayload{Token: "tok", PublicKey: pk, Hostname: "a b"}, &RegisterPayload{}},
		{"bad ip", TypeRegister, &RegisterPayload{Token: "tok", PublicKey: pk, IP: "300.1.1.1"}, &RegisterPayload{}},
		{"renew bad ip", TypeRenewRegistration, &RenewRegistrationPayload{IP: "x"}, &RenewRegistrationPayload{}},
		{"unknown type", TypeAuthorize, map[string]any{"usage": map[string]int{"gold": 1}}, &AuthorizePayload{}},
		{"negative", TypeAuthorize, &AuthorizePayload{Usage: map[LicenseType]int{RMS: -1}}, &AuthorizePayload{}},
		{"huge", TypeAuthorize, &AuthorizePayload{Usage: map[LicenseType]int{RMS: MaxUsage + 1}}, &AuthorizePayload{}},
		{"unknown field", TypeDeregister, map[string]any{"why": "x"}, &DeregisterPayload{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRequest(tc.typ, udi, tc.payload, t0, p.devKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.DecodePayload(tc.into); !errors.Is(err, ErrBadRequest) {
				t.Fatalf("DecodePayload = %v, want bad_request", err)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	p := newPKI(t, false)
	g := NewReplay(time.Minute, 0)
	r, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0, p.devKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Check(r, t0); err != nil {
		t.Fatal(err)
	}
	// Replays stay refused for as long as the timestamp is fresh, across
	// generation rotations.
	for _, d := range []time.Duration{0, 30 * time.Second, time.Minute} {
		if err := g.Check(r, t0.Add(d)); !errors.Is(err, ErrReplay) {
			t.Errorf("replay at +%s: %v, want replay", d, err)
		}
	}
	// Other requests in between rotate generations.
	for i := 0; i < 5; i++ {
		o, _ := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0.Add(time.Duration(i)*30*time.Second), p.devKey)
		if err := g.Check(o, t0.Add(time.Duration(i)*30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// The clock stepped back after the guard dropped r's nonce: still
	// refused.
	if err := g.Check(r, t0.Add(time.Minute)); !errors.Is(err, ErrReplay) && !errors.Is(err, ErrStaleTimestamp) {
		t.Errorf("replay after the clock stepped back: %v", err)
	}
	if err := g.Check(r, t0.Add(61*time.Second)); !errors.Is(err, ErrStaleTimestamp) {
		t.Errorf("late replay: %v, want stale_timestamp", err)
	}
	future, _ := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0.Add(2*time.Minute), p.devKey)
	if err := g.Check(future, t0); !errors.Is(err, ErrStaleTimestamp) {
		t.Errorf("future: %v, want stale_timestamp", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	p := newPKI(t, false)
	stranger := newPKI(t, false)
	caSigner := newPKI(t, true)
	req, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0, p.devKey)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0, p.devKey)
	good, _, err := p.signer.Answer(req, t0, &AuthorizeResult{State: StateAuthorized}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sa SignedAnswer
	json.Unmarshal(good, &sa)
	reencode := func(f func(*SignedAnswer)) []byte {
		c := sa
		c.Chain = append([][]byte{}, sa.Chain...)
		c.Answer = append([]byte{}, sa.Answer...)
		f(&c)
		b, _ := json.Marshal(&c)
		return b
	}
	ans := func(s *Signer, r *Request, at time.Time) []byte {
		b, _, err := s.Answer(r, at, &AuthorizeResult{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		body []byte
		req  *Request
		skew time.Duration
		want error
	}{
		{"garbage", []byte("<html>proxy error</html>"), req, 0, ErrMalformedAnswer},
		{"too large", []byte(strings.Repeat(" ", MaxBody+1)), req, 0, ErrMalformedAnswer},
		{"no chain", reencode(func(c *SignedAnswer) { c.Chain = nil }), req, 0, ErrMalformedAnswer},
		{"no signature", reencode(func(c *SignedAnswer) { c.Signature = nil }), req, 0, ErrMalformedAnswer},
		{"answer altered", reencode(func(c *SignedAnswer) { c.Answer[len(c.Answer)-3] ^= 1 }), req, 0, ErrUntrustedAnswer},
		{"unknown CA", ans(stranger.signer, req, t0), req, 0, ErrUntrustedAnswer},
		{"chain swapped", reencode(func(c *SignedAnswer) {
			var s2 SignedAnswer
			json.Unmarshal(ans(stranger.signer, req, t0), &s2)
			c.Chain = s2.Chain
		}), req, 0, ErrUntrustedAnswer},
		{"CA as signer", ans(caSigner.signer, req, t0), req, 0, ErrUntrustedAnswer},
		{"other nonce (replayed answer)", good, other, 0, ErrAnswerMismatch},
		{"signer not yet valid at the device's estimate", good, req, -30 * 24 * time.Hour, ErrUntrustedAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(p.roots)
			if tc.name == "CA as signer" {
				v = NewVerifier(caSigner.roots)
			}
			_, err := v.Verify(tc.req, tc.body, t0, tc.skew)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// The nonce, not a window, makes an answer fresh: one whose time is
	// months away from the device's is accepted and reports the skew,
	// which is how a device with a wrong clock learns the manager's time.
	for _, off := range []time.Duration{100 * 24 * time.Hour, -100 * 24 * time.Hour, 2 * time.Hour} {
		v, err := NewVerifier(p.roots).Verify(req, ans(p.signer, req, t0.Add(off)), t0, 0)
		if err != nil || v.Skew != off {
			t.Errorf("answer %s away: %v, skew %v", off, err, v)
		}
	}
}

func TestMaskToken(t *testing.T) {
	tok := "NmE2ZjM1ZTItYzQ2MC00YzU1LWFkZTAtNzE5ZjE5OTFmNDVk"
	m := MaskToken(tok)
	if strings.Contains(m, tok[4:len(tok)-4]) || len(m) > 12 {
		t.Errorf("MaskToken(%q) = %q shows too much", tok, m)
	}
	if MaskToken("short") != "***" {
		t.Errorf("short token shown")
	}
}

func FuzzParseRequest(f *testing.F) {
	p := newPKI(f, false)
	r, _ := NewRequest(TypeRegister, udi, &RegisterPayload{Token: "tok-1234567890", PublicKey: pubDER(f, p.devKey)}, t0, p.devKey)
	b, _ := r.Marshal()
	f.Add(b)
	r, _ = NewRequest(TypeAuthorize, udi, &AuthorizePayload{Usage: map[LicenseType]int{RMS: 2}}, t0, p.devKey)
	b, _ = r.Marshal()
	f.Add(b)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// A parsed request never verifies with a different key, and payload
		// decoding never panics.
		r.VerifySignature(&p.devKey.PublicKey)
		for _, v := range []any{&RegisterPayload{}, &RenewRegistrationPayload{}, &AuthorizePayload{}, &DeregisterPayload{}} {
			r.DecodePayload(v)
		}
	})
}

func FuzzVerifyAnswer(f *testing.F) {
	p := newPKI(f, false)
	req, _ := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0, p.devKey)
	good, _, _ := p.signer.Answer(req, t0, &AuthorizeResult{State: StateAuthorized}, nil)
	f.Add(good)
	bad, _, _ := p.signer.Answer(req, t0, nil, ErrTokenExpired)
	f.Add(bad)
	f.Add([]byte(`{"answer":"","signature":"","chain":[]}`))
	v := NewVerifier(p.roots)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := v.Verify(req, body, t0, 0)
		if err == nil && (a.Nonce != req.Nonce || a.UDI != req.UDI) {
			t.Fatalf("accepted an answer for another request")
		}
	})
}

func TestAnswerEncodingMatchesJSON(t *testing.T) {
	p := newPKI(t, false)
	req, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0, p.devKey)
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := p.signer.Answer(req, t0, &AuthorizeResult{State: StateAuthorized}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sa SignedAnswer
	if err := decodeStrict(body, &sa); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&sa)
	if string(again) != string(body) {
		t.Errorf("hand-encoded answer differs from json.Marshal:\n%s\n%s", body, again)
	}
}

func TestBindingOfRefusedRequest(t *testing.T) {
	p := newPKI(t, false)
	r, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, t0, p.devKey)
	if err != nil {
		t.Fatal(err)
	}
	r.Version = 9
	body, _ := json.Marshal(r)
	if _, err := ParseRequest(body); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("ParseRequest = %v", err)
	}
	b := Binding(body)
	if b == nil || b.Nonce != r.Nonce || b.UDI != r.UDI || b.Type != r.Type {
		t.Fatalf("Binding = %+v", b)
	}
	ans, _, err := p.signer.Answer(b, t0, nil, Errorf(CodeBadRequest, "version 9"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(p.roots).Verify(r, ans, t0, 0)
	if err != nil {
		t.Fatalf("device cannot verify the bound refusal: %v", err)
	}
	if !errors.Is(v.Err(), ErrBadRequest) {
		t.Errorf("refusal %v", v.Err())
	}
	for _, bad := range []string{`{}`, `{"type":"x","nonce":"` + r.Nonce + `","udi":"u"}`, `{"type":"authorize","nonce":"short","udi":"u"}`, `[`} {
		if Binding([]byte(bad)) != nil {
			t.Errorf("Binding(%s) is not nil", bad)
		}
	}
}

// TestReplayLimit fills a small guard: when full it refuses new requests
// (busy) rather than forget a nonce that is still fresh, and takes them
// again once the nonces it holds have gone stale.
func TestReplayLimit(t *testing.T) {
	p := newPKI(t, false)
	g := NewReplay(time.Minute, 3)
	req := func(at time.Time) *Request {
		r, err := NewRequest(TypeAuthorize, udi, &AuthorizePayload{}, at, p.devKey)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := req(t0)
	for i, r := range []*Request{first, req(t0), req(t0.Add(10 * time.Second))} {
		if err := g.Check(r, t0); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := g.Check(req(t0), t0.Add(30*time.Second)); !errors.Is(err, ErrBusy) {
		t.Errorf("fourth request into a full guard: %v, want busy", err)
	}
	// Full, the guard still knows every nonce it holds.
	if err := g.Check(first, t0.Add(59*time.Second)); !errors.Is(err, ErrReplay) {
		t.Errorf("replay into a full guard: %v, want replay", err)
	}
	if g.Len() != 3 {
		t.Errorf("guard holds %d nonces, want 3", g.Len())
	}
	// Once every timestamp it holds is stale, there is room again.
	later := t0.Add(2 * time.Minute)
	if err := g.Check(req(later), later); err != nil {
		t.Errorf("after the held nonces went stale: %v", err)
	}
	if g.Len() != 1 {
		t.Errorf("guard holds %d nonces after expiry, want 1", g.Len())
	}
	if err := g.Fresh(first, later); !errors.Is(err, ErrStaleTimestamp) {
		t.Errorf("Fresh of an old request: %v", err)
	}
}

// TestRequestCounterIsSigned: the counter is covered by the signature, so
// it cannot be changed, added to a legacy request or taken away (which
// would turn a request into a legacy one judged by its timestamp).
func TestRequestCounterIsSigned(t *testing.T) {
	p := newPKI(t, false)
	r, err := NewRequestSeq(TypeAuthorize, udi, 7, &AuthorizePayload{}, t0, p.devKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.Marshal()
	parsed, err := ParseRequest(b)
	if err != nil || parsed.Seq != 7 {
		t.Fatalf("parsed %+v, %v", parsed, err)
	}
	if err := parsed.VerifySignature(&p.devKey.PublicKey); err != nil {
		t.Fatalf("good request: %v", err)
	}
	for _, seq := range []int64{0, 6, 8} {
		c := *parsed
		c.Seq = seq
		if err := c.VerifySignature(&p.devKey.PublicKey); !errors.Is(err, ErrBadSignature) {
			t.Errorf("counter changed to %d: %v, want bad_signature", seq, err)
		}
	}
	if _, err := ParseRequest(bytes.Replace(b, []byte(`"seq":7`), []byte(`"seq":-1`), 1)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("negative counter: %v, want bad_request", err)
	}
}
