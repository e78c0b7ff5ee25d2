package reservation

import "testing"

func benchVerify(b *testing.B, code string) {
	w := newWorld(b)
	b.ReportAllocs()
	for b.Loop() {
		c, err := ParseAuthorizationCode(code)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Verify(w.keys, udiA, w.reqA.Code); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVerifyPLR(b *testing.B) {
	w := newWorld(b)
	benchVerify(b, w.plr(b, w.signer, w.reqA))
}

func BenchmarkParseVerifySLR(b *testing.B) {
	w := newWorld(b)
	benchVerify(b, w.slr(b, w.signer, w.reqA))
}

func BenchmarkParseRequestCode(b *testing.B) {
	s := testRequest(b, udiA, "1").Code.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequestCode(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyReturnCode(b *testing.B) {
	w := newWorld(b)
	a := mustIssueSLR(b, w.signer, w.reqA)
	s, err := w.reqA.ReturnCode(a, ReturnInstalled)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rc, err := ParseReturnCode(s)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.signer.VerifyReturn(w.reqA.Code, rc, []CodeID{a.ID}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuse10MB measures how fast an oversized SLR input is
// refused: before any parsing.
func BenchmarkRefuse10MB(b *testing.B) {
	big := make([]byte, 10<<20)
	for i := range big {
		big[i] = 'A'
	}
	s := "<specificPLR>" + string(big)
	for b.Loop() {
		if _, err := ParseAuthorizationCode(s); err == nil {
			b.Fatal("10 MB accepted")
		}
	}
}
