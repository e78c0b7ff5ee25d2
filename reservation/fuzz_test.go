package reservation

import (
	"errors"
	"strings"
	"testing"
)

// sentinel reports whether err wraps one of the parse sentinels: every
// refusal of outside input must say which kind it is.
func sentinel(err error) bool {
	for _, s := range []error{ErrMalformed, ErrMistyped, ErrOversized} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParseRequestCode(f *testing.F) {
	good := testRequest(f, udiA, "1").Code.String()
	for _, s := range []string{
		good,
		testRequest(f, udiB, "1").Code.String(),
		"CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcf-AE",
		"CH-Expressway,S0B070519,V1.0,H320ac19c-A7C3vjcf-26",
		"CB-P,S,V,H--",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rc, err := ParseRequestCode(s)
		if err != nil {
			if !sentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// Only the canonical form of a code is accepted.
		if got := rc.String(); got != strings.TrimSpace(s) {
			t.Fatalf("parsed %q but formats as %q", s, got)
		}
		again, err := ParseRequestCode(rc.String())
		if err != nil || again != rc {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

func FuzzParseAuthorizationCode(f *testing.F) {
	w := newWorld(f)
	plr, err := w.signer.IssuePLR(w.reqA.Code, true, t0)
	if err != nil {
		f.Fatal(err)
	}
	slr := mustIssueSLR(f, w.signer, w.reqA)
	// Signatures differ from one process to the next (ECDSA draws a
	// random nonce), so issued codes are known by their id: the hash of
	// their signed content, which is the same in every fuzzing process.
	genuine := map[CodeID]bool{plr.ID: true, slr.ID: true}
	for _, s := range []string{
		plr.Text,
		slr.Text,
		strings.ReplaceAll(slr.Text, "><", ">\n <"),
		w.plr(f, w.signer, w.reqB),
		w.slr(f, w.rogue, w.reqA),
		"CAVfS8-tqmsHn-ntioqo-Z8Q4wK-jsddDU-3YkM",
		`<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><specificPLR>&x;</specificPLR>`,
		"<specificPLR><authorizationCode><flag>A</flag></authorizationCode></specificPLR>",
		"<a><a><a><a><a><a><a></a></a></a></a></a></a></a>",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseAuthorizationCode(s)
		if err != nil {
			if !sentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		a, err := c.Verify(w.keys, udiA, w.reqA.Code)
		if err != nil {
			for _, s := range []error{ErrSignature, ErrOtherUDI, ErrOtherRequest} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("verify error %v wraps no sentinel", err)
		}
		// Whatever verifies is one of the codes the manager issued, in
		// content: the layout may differ, never the meaning.
		if !genuine[a.ID] {
			t.Fatalf("%q verified as a code the manager never issued: %+v", s, a)
		}
	})
}

func FuzzVerifyReturnCode(f *testing.F) {
	w := newWorld(f)
	a1 := mustIssueSLR(f, w.signer, w.reqA)
	a2, err := w.signer.IssuePLR(w.reqA.Code, false, t0.AddDate(0, 0, 1))
	if err != nil {
		f.Fatal(err)
	}
	issued := []CodeID{a1.ID, a2.ID}
	genuine := map[string]bool{}
	for _, a := range []*Authorization{a1, a2} {
		for _, k := range []ReturnKind{ReturnInstalled, ReturnUninstalled} {
			s, err := w.reqA.ReturnCode(a, k)
			if err != nil {
				f.Fatal(err)
			}
			genuine[s] = true
			f.Add(s)
		}
	}
	other, _ := w.reqA2.ReturnCode(mustIssueSLR(f, w.signer, w.reqA2), ReturnInstalled)
	for _, s := range []string{other, "CvfS8d-Fx1Yev-qmViq3-1KhkSR-iJfCzN-biB", "CR", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rc, err := ParseReturnCode(s)
		if err != nil {
			if !sentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if _, err := ParseReturnCode(rc.String()); err != nil {
			t.Fatalf("%q parsed but its canonical form %q does not: %v", s, rc.String(), err)
		}
		_, err = w.signer.VerifyReturn(w.reqA.Code, rc, issued)
		if err != nil {
			if !errors.Is(err, ErrWrongReturn) && !errors.Is(err, ErrOtherRequest) {
				t.Fatalf("verify error %v wraps no sentinel", err)
			}
			return
		}
		if !genuine[rc.String()] {
			t.Fatalf("%q verified but the device never made it", s)
		}
	})
}
