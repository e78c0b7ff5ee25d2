package reservation

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestUDI(t *testing.T) {
	u, err := ParseUDI("UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;")
	if err != nil {
		t.Fatal(err)
	}
	if want := (UDI{PID: "Expressway", SN: "04515163", VID: "1.0"}); u != want {
		t.Fatalf("ParseUDI = %+v, want %+v", u, want)
	}
	if got, want := u.String(), "UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	if u2, err := ParseUDI("  UDI_SN:04515163;UDI_PID:Expressway;UDI_VID:1.0  "); err != nil || u2 != u {
		t.Fatalf("reordered UDI: %+v, %v", u2, err)
	}
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"empty", "", "is empty", ErrMalformed},
		{"no VID", "UDI_PID:Expressway; UDI_SN:04515163;", "no UDI_VID", ErrMalformed},
		{"twice", "UDI_PID:Expressway; UDI_PID:VCS; UDI_SN:1; UDI_VID:1.0;", "twice", ErrMalformed},
		{"unknown", "UDI_PID:Expressway; UDI_SN:1; UDI_VID:1.0; UDI_X:2;", "unknown field", ErrMalformed},
		{"no colon", "UDI_PID Expressway; UDI_SN:1; UDI_VID:1.0;", "NAME:value", ErrMalformed},
		{"bad serial", "UDI_PID:Expressway; UDI_SN:04-15; UDI_VID:1.0;", "serial number", ErrMalformed},
		{"empty pid", "UDI_PID:; UDI_SN:1; UDI_VID:1.0;", "product id (PID) is empty", ErrMalformed},
		{"huge", strings.Repeat("UDI_PID:x;", 100), "limit", ErrOversized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseUDI(tc.in)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseUDI(%q) = %v, want %v containing %q", tc.in, err, tc.err, tc.want)
			}
		})
	}
}

func TestBase58(t *testing.T) {
	for _, n := range []int{1, 16, 25, 33, 80} {
		for _, b := range [][]byte{make([]byte, n), []byte(strings.Repeat("\xff", n)), []byte(strings.Repeat("\x5a", n))} {
			s := encode58(b)
			if len(s) != width58(n) {
				t.Fatalf("encode58 of %d bytes has %d characters, want %d", n, len(s), width58(n))
			}
			got, err := decode58(s, n, "x")
			if err != nil || string(got) != string(b) {
				t.Fatalf("decode58(encode58(%x)) = %x, %v", b, got, err)
			}
		}
	}
	// The largest string of the width is out of range for the byte count.
	if _, err := decode58(strings.Repeat("z", width58(33)), 33, "key"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("out of range value: %v", err)
	}
	if _, err := decode58("0"+strings.Repeat("1", width58(1)-1), 1, "x"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad character: %v", err)
	}
}

// TestCheckCharsCatchTypos checks the property the check characters are
// for, exhaustively on a real code: every single substitution by a code
// character and every swap of two adjacent different characters changes
// them.
func TestCheckCharsCatchTypos(t *testing.T) {
	body := ungroup(mustPLR(t).Text)
	body = body[:len(body)-2]
	want := checkChars(body)
	chars := alphabet58 + ",.-_"
	for i := 0; i < len(body); i++ {
		for j := 0; j < len(chars); j++ {
			if chars[j] == body[i] {
				continue
			}
			typo := body[:i] + string(chars[j]) + body[i+1:]
			if checkChars(typo) == want {
				t.Fatalf("substituting %q at %d is not caught", chars[j], i)
			}
		}
		if i+1 < len(body) && body[i] != body[i+1] {
			swap := body[:i] + string(body[i+1]) + string(body[i]) + body[i+2:]
			if checkChars(swap) == want {
				t.Fatalf("swapping %d and %d is not caught", i, i+1)
			}
		}
	}
}

func TestRequestCodeRoundTrip(t *testing.T) {
	r := testRequest(t, udiA, "1")
	s := r.Code.String()
	shape := regexp.MustCompile(`^CB-PExpressway,S08F8FF3C,V1\.0,H320aa69d-A[1-9A-HJ-NP-Za-km-z]{46}-[1-9A-HJ-NP-Za-km-z]{2}$`)
	if !shape.MatchString(s) {
		t.Fatalf("request code %q does not have the expected shape", s)
	}
	got, err := ParseRequestCode("  " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != r.Code {
		t.Fatalf("ParseRequestCode(String()) = %+v, want %+v", got, r.Code)
	}
	text, _ := r.Code.MarshalText()
	var back RequestCode
	if err := back.UnmarshalText(text); err != nil || back != r.Code {
		t.Fatalf("text round trip: %+v, %v", back, err)
	}
	if r2 := testRequest(t, udiA, "2"); r2.Code.String() == s || r2.Code.PIID() == r.Code.PIID() {
		t.Fatal("two requests of one device have the same code or instance id")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.Code.PIID()) {
		t.Fatalf("PIID %q is not a version 8 UUID", r.Code.PIID())
	}
}

func TestParseRequestCodeErrors(t *testing.T) {
	good := testRequest(t, udiA, "1").Code.String()
	key := good[strings.Index(good, "-A")+1 : strings.LastIndex(good, "-")]
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"empty", "", "empty", ErrMalformed},
		{"oversized", "CB-" + strings.Repeat("x", 300), "limit", ErrOversized},
		{"prefix", "CX" + good[2:], `start with "CB-"`, ErrMalformed},
		{"parts", strings.Replace(good, "-A", "A", 1), "parts", ErrMalformed},
		{"fields", strings.Replace(good, ",V1.0", "", 1), "4 (P, S, V, H)", ErrMalformed},
		{"tag", strings.Replace(good, ",S08", ",X08", 1), `field 2 must start with "S"`, ErrMalformed},
		{"serial", strings.Replace(good, "S08F8FF3C", "S08F8F#3C", 1), "serial number", ErrMalformed},
		{"pid", strings.Replace(good, "PExpressway", "P", 1), "product id (PID) is empty", ErrMalformed},
		{"host id", strings.Replace(good, "H320aa69d", "H320AA69D", 1), "host id", ErrMalformed},
		{"host id length", strings.Replace(good, "H320aa69d", "H320aa6", 1), "host id", ErrMalformed},
		{"key letter", strings.Replace(good, "-A", "-B", 1), `product key must start with "A"`, ErrMalformed},
		{"key length", strings.Replace(good, key, key[:20], 1), "product key has 19 characters", ErrMalformed},
		{"key character", strings.Replace(good, key, key[:5]+"0"+key[6:], 1), "is not a code character", ErrMalformed},
		{"check length", good + "x", "check characters", ErrMalformed},
		{"check", good[:len(good)-2] + swapCheck(good[len(good)-2:]), "mistyped", ErrMistyped},
		{"serial typo", strings.Replace(good, "S08F8FF3C", "S08F8FF3D", 1), "mistyped", ErrMistyped},
		{"swap", strings.Replace(good, "S08F8FF3C", "S80F8FF3C", 1), "mistyped", ErrMistyped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequestCode(tc.in)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseRequestCode(%q) = %v, want %v containing %q", tc.in, err, tc.err, tc.want)
			}
		})
	}
}

func swapCheck(c string) string {
	if c[0] != c[1] {
		return string([]byte{c[1], c[0]})
	}
	return "22"
}

// TestRequestCodeAlteredAnywhere changes each character of a request code
// in turn; every change must be refused.
func TestRequestCodeAlteredAnywhere(t *testing.T) {
	good := testRequest(t, udiA, "1").Code.String()
	for i := 0; i < len(good); i++ {
		for _, c := range alterations(good[i]) {
			bad := good[:i] + string(c) + good[i+1:]
			if rc, err := ParseRequestCode(bad); err == nil {
				t.Fatalf("altered at %d (%q -> %q): parsed as %s", i, good[i], c, rc)
			}
		}
	}
}

// alterations gives a few characters to put in place of c: one of each
// class and the neighbours of c.
func alterations(c byte) []byte {
	var out []byte
	for _, a := range []byte{c + 1, c - 1, c ^ 0x20, '7', 'x', 'Q', '-', ',', '.', ' '} {
		if a != c && a >= 0x20 && a < 0x7f {
			out = append(out, a)
		}
	}
	return out
}

func mustPLR(t testing.TB) *Authorization {
	t.Helper()
	s := testSigner(t, "m1")
	r := testRequest(t, udiA, "1")
	a, err := s.IssuePLR(r.Code, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPLRRoundTrip(t *testing.T) {
	s := testSigner(t, "m1")
	r := testRequest(t, udiA, "1")
	for _, ec := range []bool{true, false} {
		a, err := s.IssuePLR(r.Code, ec, t0)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^CA[1-9A-HJ-NP-Za-km-z]{4}(-[1-9A-HJ-NP-Za-km-z]{6})+(-[1-9A-HJ-NP-Za-km-z]{1,6})?$`).MatchString(a.Text) {
			t.Fatalf("PLR code %q does not have the expected shape", a.Text)
		}
		c, err := ParseAuthorizationCode(a.Text)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Verify(testKeys(t, testSigner(t, "other"), s), udiA, r.Code)
		if err != nil {
			t.Fatal(err)
		}
		if v.Kind != PLR || v.ExportControl != ec || !v.Issued.Equal(t0) || v.ID != a.ID || v.PIID != r.Code.PIID() || v.Text != a.Text {
			t.Fatalf("verified PLR = %+v, issued %+v", v, a)
		}
		// Copying the code without dashes, in pieces over lines, works.
		if c2, err := ParseAuthorizationCode(strings.ReplaceAll(a.Text, "-", "") + "\n"); err != nil {
			t.Fatal(err)
		} else if v2, err := c2.Verify(testKeys(t, s), udiA, r.Code); err != nil || v2.ID != a.ID {
			t.Fatalf("undashed copy: %v", err)
		}
	}
}

func TestSLRRoundTrip(t *testing.T) {
	s := testSigner(t, "m1")
	r := testRequest(t, udiA, "1")
	ents := testEntitlements()
	a, err := s.IssueSLR(r.Code, false, t0, ents)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Text, "<specificPLR><authorizationCode><flag>N</flag><version>C</version><piid>"+r.Code.PIID()+"</piid><timestamp>") ||
		!strings.Contains(a.Text, "<startDate>2026-May-11 UTC</startDate><endDate>2027-May-10 UTC</endDate><licenseType>TERM</licenseType>") ||
		!strings.Contains(a.Text, "<startDate></startDate><endDate></endDate><licenseType>PERPETUAL</licenseType>") ||
		!strings.HasSuffix(a.Text, "</signature><udi>"+udiA.String()+"</udi></specificPLR>") {
		t.Fatalf("SLR code does not have the expected form:\n%s", a.Text)
	}
	c, err := ParseAuthorizationCode(a.Text)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(testKeys(t, s), udiA, r.Code)
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind != SLR || v.ExportControl || v.ID != a.ID || len(v.Entitlements) != 3 {
		t.Fatalf("verified SLR = %+v", v)
	}
	for i, e := range v.Entitlements {
		if e != ents[i] {
			t.Errorf("entitlement %d = %+v, want %+v", i, e, ents[i])
		}
	}
	// A pretty-printed copy (line breaks and indentation between
	// elements) is the same code.
	pretty := strings.NewReplacer("><", ">\n  <").Replace(a.Text)
	c2, err := ParseAuthorizationCode(pretty)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := c2.Verify(testKeys(t, s), udiA, r.Code)
	if err != nil || v2.ID != a.ID || v2.Text != a.Text {
		t.Fatalf("pretty-printed copy: %v", err)
	}
}

func TestSLREntitlementDates(t *testing.T) {
	e := RMS.Entitlement(1, date(2026, time.May, 11), date(2026, time.June, 30))
	for _, tc := range []struct {
		at              time.Time
		started, expire bool
	}{
		{date(2026, time.May, 10), false, false},
		{date(2026, time.May, 11), true, false},
		{time.Date(2026, time.June, 30, 23, 59, 59, 0, time.UTC), true, false},
		{date(2026, time.July, 1), true, true},
	} {
		if e.Started(tc.at) != tc.started || e.Expired(tc.at) != tc.expire || e.ActiveAt(tc.at) != (tc.started && !tc.expire) {
			t.Errorf("at %s: started %v expired %v, want %v %v", tc.at, e.Started(tc.at), e.Expired(tc.at), tc.started, tc.expire)
		}
	}
	p := Room.Entitlement(1, time.Time{}, time.Time{})
	if !p.ActiveAt(date(9999, time.January, 1)) || p.Validity != Perpetual {
		t.Error("perpetual entitlement is not active forever")
	}
	if lt, ok := e.LicenseType(); !ok || lt != RMS {
		t.Errorf("LicenseType = %v %v", lt, ok)
	}
}

func TestLicenseTypes(t *testing.T) {
	seen := map[string]bool{}
	for _, lt := range LicenseTypes() {
		if err := checkTag(lt.Tag()); err != nil {
			t.Errorf("%s: %v", lt, err)
		}
		if seen[lt.Tag()] {
			t.Errorf("%s: tag used twice", lt)
		}
		seen[lt.Tag()] = true
		if got, ok := LicenseTypeOfTag(lt.Tag()); !ok || got != lt {
			t.Errorf("LicenseTypeOfTag(%s) = %v", lt.Tag(), got)
		}
		if got, err := ParseLicenseType(strings.ToUpper(string(lt))); err != nil || got != lt {
			t.Errorf("ParseLicenseType(%s) = %v, %v", lt, got, err)
		}
	}
	if _, err := ParseLicenseType("seats"); !errors.Is(err, ErrMalformed) {
		t.Errorf("unknown type: %v", err)
	}
}
