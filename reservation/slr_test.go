package reservation

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSLRHardening feeds the SLR parser the inputs XML attacks are made
// of, and each kind of structural mistake; every one must be refused
// with the right sentinel and a message that says what is wrong.
func TestSLRHardening(t *testing.T) {
	w := newWorld(t)
	good := w.slr(t, w.signer, w.reqA)
	body := good[len("<specificPLR>"):]
	deep := "<specificPLR>" + strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000) + "</specificPLR>"
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"10 MB", "<specificPLR>" + strings.Repeat("A", 10<<20) + "</specificPLR>", "limit", ErrOversized},
		{"10 MB of nesting", strings.Repeat("<a>", 10<<20/3), "limit", ErrOversized},
		{"just over the limit", good + strings.Repeat(" ", MaxSLRBytes-len(good)+1), "limit", ErrOversized},
		{"deep nesting", deep[:MaxSLRBytes/2], "deeper than 5", ErrMalformed},
		{"nesting below a leaf", strings.Replace(good, "<flag>A</flag>", "<flag><b><c>A</c></b></flag>", 1), "only text", ErrMalformed},
		{"doctype", `<!DOCTYPE specificPLR [<!ELEMENT specificPLR ANY>]>` + good, "<!DOCTYPE>", ErrMalformed},
		{"doctype lower case", `<!doctype specificPLR>` + good, "<!DOCTYPE>", ErrMalformed},
		{"billion laughs", `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>` +
			strings.Replace(good, "Expressway Rich", "&b;&b;&b;", 1), "<!DOCTYPE>", ErrMalformed},
		{"external entity", `<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/shadow">]>` + strings.Replace(good, "Expressway Rich", "&x;", 1), "<!DOCTYPE>", ErrMalformed},
		{"entity alone", `<!ENTITY x "y">` + good, "<!ENTITY>", ErrMalformed},
		{"undeclared entity", strings.Replace(good, "Expressway Rich", "&x;", 1), "not well-formed", ErrMalformed},
		{"comment", strings.Replace(good, "<flag>", "<!-- hi --><flag>", 1), "comment", ErrMalformed},
		{"CDATA", strings.Replace(good, "<flag>A", "<flag><![CDATA[A]]>", 1), "CDATA", ErrMalformed},
		{"xml declaration", `<?xml version="1.0"?>` + good, "processing instruction", ErrMalformed},
		{"attribute", strings.Replace(good, "<flag>", `<flag x="1">`, 1), "attributes", ErrMalformed},
		{"namespace", strings.Replace(strings.Replace(good, "<flag>", "<n:flag>", 1), "</flag>", "</n:flag>", 1), "namespace", ErrMalformed},
		{"not XML", "<specificPLR", "not well-formed", ErrMalformed},
		{"unclosed", good[:len(good)-5], "not well-formed", ErrMalformed},
		{"mismatched tags", strings.Replace(good, "</flag>", "</flog>", 1), "not well-formed", ErrMalformed},
		{"other root", "<plr>" + body[:len(body)-len("</specificPLR>")] + "</plr>", "top element is <plr>", ErrMalformed},
		{"two roots", good + good, "more after", ErrMalformed},
		{"trailing text", good + "x", "text outside", ErrMalformed},
		{"unknown element", strings.Replace(good, "<flag>", "<extra>1</extra><flag>", 1), "<extra> is not allowed in <authorizationCode>", ErrMalformed},
		{"duplicate element", strings.Replace(good, "<flag>A</flag>", "<flag>A</flag><flag>A</flag>", 1), "appears twice", ErrMalformed},
		{"missing element", strings.Replace(good, "<flag>A</flag>", "", 1), "has no <flag>", ErrMalformed},
		{"missing signature", good[:strings.Index(good, "<signature>")] + good[strings.Index(good, "<udi>"):], "has no <signature>", ErrMalformed},
		{"text between elements", strings.Replace(good, "<flag>", "x<flag>", 1), "holds text", ErrMalformed},
		{"bad flag", strings.Replace(good, "<flag>A</flag>", "<flag>B</flag>", 1), "<flag>", ErrMalformed},
		{"bad version", strings.Replace(good, "<version>C</version>", "<version>D</version>", 1), "<version>", ErrMalformed},
		{"bad piid", strings.Replace(good, w.reqA.Code.PIID(), "not-a-uuid", 1), "<piid>", ErrMalformed},
		{"bad timestamp", strings.Replace(good, "<timestamp>", "<timestamp>x", 1), "<timestamp>", ErrMalformed},
		{"padded timestamp", strings.Replace(good, "<timestamp>", "<timestamp>0", 1), "<timestamp>", ErrMalformed},
		{"no entitlements", cut(good, "<entitlements>", "</entitlements>"), "at least one", ErrMalformed},
		{"other element in entitlements", strings.Replace(good, "<entitlements>", "<entitlements><license></license>", 1), "<license> is not allowed", ErrMalformed},
		{"bad count", strings.Replace(good, "<count>10</count>", "<count>ten</count>", 1), "<count>", ErrMalformed},
		{"zero count", strings.Replace(good, "<count>10</count>", "<count>0</count>", 1), "between 1 and", ErrMalformed},
		{"padded count", strings.Replace(good, "<count>10</count>", "<count>010</count>", 1), "<count>", ErrMalformed},
		{"bad date", strings.Replace(good, "2026-May-11 UTC", "2026-05-11", 1), "<startDate>", ErrMalformed},
		{"lower-case month", strings.Replace(good, "2026-May-11 UTC", "2026-may-11 UTC", 1), "<startDate>", ErrMalformed},
		{"term without dates", strings.Replace(good, "<startDate>2026-May-11 UTC</startDate>", "<startDate></startDate>", 1), "needs a start", ErrMalformed},
		{"perpetual with dates", strings.Replace(good, "<startDate></startDate>", "<startDate>2026-May-11 UTC</startDate>", 1), "has dates", ErrMalformed},
		{"ends before it starts", strings.Replace(good, "2027-May-10 UTC", "2025-May-10 UTC", 1), "ends", ErrMalformed},
		{"bad licenseType", strings.Replace(good, "<licenseType>TERM</licenseType>", "<licenseType>LEASE</licenseType>", 1), "TERM or PERPETUAL", ErrMalformed},
		{"duplicate tag", strings.Replace(good, "Expressway_Room,1.0_cf7b7232-53e1-4564-8925-75784f6333a4", "Expressway_RMS,1.0_4c09f484-0fab-41d4-a352-39af69b93f3f", 1), "twice", ErrMalformed},
		{"bad tag", strings.Replace(good, "regid.2016-07.com.cisco.Expressway_RMS", "swid.2016-07.com.cisco.Expressway_RMS", 1), "regid.", ErrMalformed},
		{"control character", strings.Replace(good, "Expressway Rich", "Expressway&#9;Rich", 1), "not printable", ErrMalformed},
		{"empty display name", strings.Replace(good, "<displayName>Expressway Rich Media Session License</displayName>", "<displayName></displayName>", 1), "displayName", ErrMalformed},
		{"bad signature base64", strings.Replace(good, "<signature>", "<signature>!", 1), "base64", ErrMalformed},
		{"signature not DER", strings.Replace(good, "<signature>M", "<signature>N", 1), "DER", ErrMalformed},
		{"bad udi", strings.Replace(good, "UDI_SN:", "UDI_SERIAL:", 1), "<udi>", ErrMalformed},
		{"udi not canonical", strings.Replace(good, "; UDI_SN", ";UDI_SN", 1), "<udi>", ErrMalformed},
		{"empty", "   ", "empty", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAuthorizationCode(tc.in)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseAuthorizationCode = %v; want %v containing %q", err, tc.err, tc.want)
			}
		})
	}
}

func cut(s, open, close string) string {
	i := strings.Index(s, open) + len(open)
	j := strings.Index(s, close)
	return s[:i] + s[j:]
}

// TestSLREscaping checks that text needing XML escapes survives the round
// trip and stays signed.
func TestSLREscaping(t *testing.T) {
	w := newWorld(t)
	e := RMS.Entitlement(3, date(2026, 5, 1), date(2026, 6, 1))
	e.DisplayName = `Rich Media <Session> & "more"`
	a, err := w.signer.IssueSLR(w.reqA.Code, false, t0, []Entitlement{e})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "Rich Media &lt;Session&gt; &amp; &#34;more&#34;") {
		t.Fatalf("display name not escaped: %s", a.Text)
	}
	v, err := verifyOnA(w, a.Text)
	if err != nil {
		t.Fatal(err)
	}
	if v.Entitlements[0].DisplayName != e.DisplayName {
		t.Fatalf("display name %q, want %q", v.Entitlements[0].DisplayName, e.DisplayName)
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	w := newWorld(t)
	bad := RMS.Entitlement(0, date(2026, 5, 1), date(2026, 6, 1))
	for _, tc := range []struct {
		name string
		ents []Entitlement
	}{
		{"none", nil},
		{"zero count", []Entitlement{bad}},
		{"twice", []Entitlement{RMS.Entitlement(1, time.Time{}, time.Time{}), RMS.Entitlement(2, time.Time{}, time.Time{})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.signer.IssueSLR(w.reqA.Code, false, t0, tc.ents); !errors.Is(err, ErrMalformed) {
				t.Fatalf("IssueSLR = %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := w.signer.IssuePLR(w.reqA.Code, false, time.Time{}); err == nil {
		t.Fatal("IssuePLR with a zero time succeeded")
	}
}
