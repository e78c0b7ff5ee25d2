package reservation

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// world is one manager and two devices, each with a request.
type world struct {
	signer, rogue *Signer
	keys          KeySet   // what devices trust: the signer only
	reqA, reqA2   *Request // two requests of device A
	reqB          *Request // device B
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{signer: testSigner(t, "m1"), rogue: testSigner(t, "rogue")}
	w.keys = testKeys(t, w.signer)
	w.reqA = testRequest(t, udiA, "1")
	w.reqA2 = testRequest(t, udiA, "2")
	w.reqB = testRequest(t, udiB, "1")
	return w
}

func (w *world) plr(t testing.TB, s *Signer, req *Request) string {
	t.Helper()
	a, err := s.IssuePLR(req.Code, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a.Text
}

func (w *world) slr(t testing.TB, s *Signer, req *Request) string {
	t.Helper()
	a, err := s.IssueSLR(req.Code, true, t0, testEntitlements())
	if err != nil {
		t.Fatal(err)
	}
	return a.Text
}

func verifyOnA(w *world, code string) (*Authorization, error) {
	c, err := ParseAuthorizationCode(code)
	if err != nil {
		return nil, err
	}
	return c.Verify(w.keys, udiA, w.reqA.Code)
}

func TestVerifyRefuses(t *testing.T) {
	w := newWorld(t)
	slrA := w.slr(t, w.signer, w.reqA)
	slrB := w.slr(t, w.signer, w.reqB)
	for _, tc := range []struct {
		name string
		code string
		err  error
	}{
		{"PLR wrong signature", w.plr(t, w.rogue, w.reqA), ErrSignature},
		{"SLR wrong signature", w.slr(t, w.rogue, w.reqA), ErrSignature},
		{"PLR another UDI", w.plr(t, w.signer, w.reqB), ErrOtherUDI},
		{"SLR another UDI", slrB, ErrOtherUDI},
		{"PLR another request", w.plr(t, w.signer, w.reqA2), ErrOtherRequest},
		{"SLR another request", w.slr(t, w.signer, w.reqA2), ErrOtherRequest},
		// Editing the bindings to match this device breaks the signature.
		{"SLR UDI edited", strings.Replace(strings.Replace(slrB, udiB.SN, udiA.SN, 1), w.reqB.Code.PIID(), w.reqA.Code.PIID(), 1), ErrSignature},
		{"SLR count edited", strings.Replace(slrA, "<count>10</count>", "<count>99</count>", 1), ErrSignature},
		{"SLR date edited", strings.Replace(slrA, "2027-May-10", "2037-May-10", 1), ErrSignature},
		{"SLR flag edited", strings.Replace(slrA, "<flag>A</flag>", "<flag>N</flag>", 1), ErrSignature},
		{"SLR high-s signature", highS(t, slrA), ErrSignature},
		{"SLR non-canonical DER", longDER(t, slrA), ErrMalformed},
		{"SLR entitlement dropped", dropEntitlement(slrA), ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := verifyOnA(w, tc.code)
			if !errors.Is(err, tc.err) {
				t.Fatalf("verify = %+v, %v; want %v", a, err, tc.err)
			}
		})
	}
}

func sigOf(t testing.TB, code string) (string, ecdsaSig) {
	t.Helper()
	b64 := code[strings.Index(code, "<signature>")+len("<signature>") : strings.Index(code, "</signature>")]
	der, _ := base64.StdEncoding.DecodeString(b64)
	var sig ecdsaSig
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		t.Fatal(err)
	}
	return b64, sig
}

// highS replaces the signature's s by n-s: the same signature in its
// other, non-canonical, form.
func highS(t testing.TB, code string) string {
	b64, sig := sigOf(t, code)
	sig.S = new(big.Int).Sub(elliptic.P256().Params().N, sig.S)
	der, _ := asn1.Marshal(sig)
	return strings.Replace(code, b64, base64.StdEncoding.EncodeToString(der), 1)
}

// longDER re-encodes the signature with a needless long-form length.
func longDER(t testing.TB, code string) string {
	b64, _ := sigOf(t, code)
	der, _ := base64.StdEncoding.DecodeString(b64)
	long := append([]byte{0x30, 0x81, der[1]}, der[2:]...)
	return strings.Replace(code, b64, base64.StdEncoding.EncodeToString(long), 1)
}

func dropEntitlement(code string) string {
	i := strings.Index(code, "<entitlement>")
	j := strings.Index(code, "</entitlement>") + len("</entitlement>")
	return code[:i] + code[j:]
}

func TestPLRHighSRefused(t *testing.T) {
	w := newWorld(t)
	c, err := ParseAuthorizationCode(w.plr(t, w.signer, w.reqA))
	if err != nil {
		t.Fatal(err)
	}
	c.s = new(big.Int).Sub(elliptic.P256().Params().N, c.s)
	again, err := ParseAuthorizationCode(c.text())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Verify(w.keys, udiA, w.reqA.Code); !errors.Is(err, ErrSignature) {
		t.Fatalf("high-s PLR code: %v, want ErrSignature", err)
	}
}

// TestAuthorizationAlteredAnywhere changes each character of a PLR and an
// SLR code in turn; every change must be refused.
func TestAuthorizationAlteredAnywhere(t *testing.T) {
	w := newWorld(t)
	for name, code := range map[string]string{"PLR": w.plr(t, w.signer, w.reqA), "SLR": w.slr(t, w.signer, w.reqA)} {
		t.Run(name, func(t *testing.T) {
			if _, err := verifyOnA(w, code); err != nil {
				t.Fatal(err)
			}
			tried := 0
			for i := 0; i < len(code); i++ {
				for _, c := range alterations(code[i]) {
					if name == "PLR" && isSeparator(code[i]) && isSeparator(c) {
						continue // only regroups the code
					}
					bad := code[:i] + string(c) + code[i+1:]
					tried++
					if a, err := verifyOnA(w, bad); err == nil {
						t.Fatalf("altered at %d (%q -> %q): verified as %+v", i, code[i], c, a)
					}
				}
			}
			t.Logf("%d altered codes refused", tried)
		})
	}
}

func TestConfirmation(t *testing.T) {
	w := newWorld(t)
	a1, err := w.signer.IssueSLR(w.reqA.Code, false, t0, testEntitlements())
	if err != nil {
		t.Fatal(err)
	}
	a2, err := w.signer.IssueSLR(w.reqA.Code, false, t0.Add(time.Millisecond), testEntitlements()[:1])
	if err != nil {
		t.Fatal(err)
	}
	conf1, err := w.reqA.Confirmation(a1)
	if err != nil {
		t.Fatal(err)
	}
	conf2, _ := w.reqA.Confirmation(a2)
	if len(conf1) != 8 || strings.Trim(conf1, "0123456789abcdef") != "" || conf1 == conf2 {
		t.Fatalf("confirmation codes %q, %q", conf1, conf2)
	}
	if err := w.signer.VerifyConfirmation(w.reqA.Code, a1.ID, " "+strings.ToUpper(conf1)+"\n"); err != nil {
		t.Fatalf("genuine confirmation refused: %v", err)
	}
	// Someone who saw the request code and the authorization codes but
	// has not the device's key: the best they can do is guess, or use
	// what they saw.
	outsider := &Request{Code: w.reqA.Code}
	if _, err := outsider.Confirmation(a1); err == nil {
		t.Fatal("a request without its key made a confirmation code")
	}
	otherDevice, _ := w.reqA2.Confirmation(mustIssueSLR(t, w.signer, w.reqA2))
	for _, tc := range []struct {
		name, code string
		id         CodeID
		err        error
	}{
		{"all zero", "00000000", a1.ID, ErrWrongConfirmation},
		{"one digit off", flipHex(conf1), a1.ID, ErrWrongConfirmation},
		{"old confirmation for the update", conf1, a2.ID, ErrWrongConfirmation},
		{"another request's confirmation", otherDevice, a1.ID, ErrWrongConfirmation},
		{"manager key instead of device key", confirmationWithRogueKey(t, w, a1), a1.ID, ErrWrongConfirmation},
		{"short", "08715c9", a1.ID, ErrMalformed},
		{"not hex", "08715c9g", a1.ID, ErrMalformed},
		{"huge", strings.Repeat("0", 1000), a1.ID, ErrOversized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := w.signer.VerifyConfirmation(w.reqA.Code, tc.id, tc.code); !errors.Is(err, tc.err) {
				t.Fatalf("VerifyConfirmation(%q) = %v, want %v", tc.code, err, tc.err)
			}
		})
	}
	// A rogue manager (another key) cannot check it either.
	if err := w.rogue.VerifyConfirmation(w.reqA.Code, a1.ID, conf1); !errors.Is(err, ErrWrongConfirmation) {
		t.Fatalf("rogue manager verified a confirmation: %v", err)
	}
}

func mustIssueSLR(t testing.TB, s *Signer, r *Request) *Authorization {
	t.Helper()
	a, err := s.IssueSLR(r.Code, false, t0, testEntitlements())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func flipHex(s string) string {
	c := s[0]
	if c == '0' {
		c = '1'
	} else {
		c = '0'
	}
	return string(c) + s[1:]
}

// confirmationWithRogueKey is what an attacker computes with a key pair
// of their own in place of the device's.
func confirmationWithRogueKey(t testing.TB, w *world, a *Authorization) string {
	raw, err := testKey(t, "attacker").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdh.P256().NewPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	mpub, _ := w.signer.Public().ECDH()
	shared, _ := priv.ECDH(mpub)
	k, _ := deviceKey(shared, w.reqA.Code)
	return confirmation(k, a.ID)
}

func TestReturnCode(t *testing.T) {
	w := newWorld(t)
	a1 := mustIssueSLR(t, w.signer, w.reqA)
	a2, _ := w.signer.IssuePLR(w.reqA.Code, true, t0.Add(5*time.Millisecond))
	issued := []CodeID{a1.ID, a2.ID}
	for _, kind := range []ReturnKind{ReturnInstalled, ReturnUninstalled} {
		for _, a := range []*Authorization{a1, a2} {
			s, err := w.reqA.ReturnCode(a, kind)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := ParseReturnCode(strings.ToLower(s[:0]) + s)
			if err != nil {
				t.Fatal(err)
			}
			if rc.Kind != kind || !rc.IsFor(w.reqA.Code) || rc.IsFor(w.reqA2.Code) {
				t.Fatalf("return code %s = %+v", s, rc)
			}
			id, err := w.signer.VerifyReturn(w.reqA.Code, rc, issued)
			if err != nil || id != a.ID {
				t.Fatalf("VerifyReturn = %v, %v; want %v", id, err, a.ID)
			}
		}
	}
}

func TestReturnCodeRefused(t *testing.T) {
	w := newWorld(t)
	a := mustIssueSLR(t, w.signer, w.reqA)
	other := mustIssueSLR(t, w.signer, w.reqA2)
	good, err := w.reqA.ReturnCode(a, ReturnInstalled)
	if err != nil {
		t.Fatal(err)
	}
	issued := []CodeID{a.ID}
	verify := func(s string) error {
		rc, err := ParseReturnCode(s)
		if err != nil {
			return err
		}
		_, err = w.signer.VerifyReturn(w.reqA.Code, rc, issued)
		return err
	}
	if err := verify(good); err != nil {
		t.Fatal(err)
	}
	t.Run("altered anywhere", func(t *testing.T) {
		for i := 0; i < len(good); i++ {
			for _, c := range alterations(good[i]) {
				if isSeparator(good[i]) && isSeparator(c) {
					continue // only regroups the code
				}
				if err := verify(good[:i] + string(c) + good[i+1:]); err == nil {
					t.Fatalf("altered at %d (%q -> %q) verified", i, good[i], c)
				}
			}
		}
	})
	rc, _ := ParseReturnCode(good)
	otherKind := *rc
	otherKind.Kind = ReturnUninstalled
	forged := *rc
	forged.mac[0] ^= 1
	otherReq, _ := w.reqA2.ReturnCode(other, ReturnInstalled)
	later, err := w.signer.IssueSLR(w.reqA.Code, false, t0.Add(time.Millisecond), testEntitlements())
	if err != nil {
		t.Fatal(err)
	}
	unissued, _ := w.reqA.ReturnCode(later, ReturnInstalled)
	for _, tc := range []struct {
		name, code string
		err        error
	}{
		{"forged MAC", forged.String(), ErrWrongReturn},
		{"kind changed", otherKind.String(), ErrWrongReturn},
		{"another request", otherReq, ErrOtherRequest},
		{"code not issued to this instance", unissued, ErrWrongReturn},
		{"empty", "", ErrMalformed},
		{"prefix", "CQ" + good[2:], ErrMalformed},
		{"short", good[:20], ErrMalformed},
		{"check characters", good[:len(good)-2] + swapCheck(good[len(good)-2:]), ErrMistyped},
		{"huge", strings.Repeat("C", 1000), ErrOversized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := verify(tc.code); !errors.Is(err, tc.err) {
				t.Fatalf("verify(%q) = %v, want %v", tc.code, err, tc.err)
			}
		})
	}
	if rc2, _ := ParseReturnCode(good); rc2 != nil {
		if _, err := w.rogue.VerifyReturn(w.reqA.Code, rc2, issued); !errors.Is(err, ErrWrongReturn) {
			t.Fatalf("rogue manager verified a return code: %v", err)
		}
	}
}

func isSeparator(c byte) bool { return c == '-' || c == ' ' }
