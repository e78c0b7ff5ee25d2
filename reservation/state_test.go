package reservation

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// device is a State with what the agent would pass it.
type device struct {
	t    testing.TB
	st   State
	keys KeySet
	udi  UDI
	rand *detReader
}

func newDevice(t testing.TB, keys KeySet, udi UDI) *device {
	return &device{t: t, keys: keys, udi: udi, rand: &detReader{seed: "device " + udi.SN}}
}

func (d *device) request() RequestCode {
	d.t.Helper()
	rc, _, err := d.st.Request(d.udi, "320aa69d", d.rand)
	if err != nil {
		d.t.Fatal(err)
	}
	return rc
}

func (d *device) snapshot() string {
	d.t.Helper()
	b, err := json.Marshal(&d.st)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(b)
}

func issuePLR(t testing.TB, s *Signer, rc RequestCode, ec bool, at time.Time) *Authorization {
	t.Helper()
	a, err := s.IssuePLR(rc, ec, at)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func issueSLR(t testing.TB, s *Signer, rc RequestCode, at time.Time, ents ...Entitlement) *Authorization {
	t.Helper()
	a, err := s.IssueSLR(rc, false, at, ents)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func verifyReturn(t testing.TB, s *Signer, rc RequestCode, code string, issued ...*Authorization) (CodeID, ReturnKind, error) {
	t.Helper()
	r, err := ParseReturnCode(code)
	if err != nil {
		return CodeID{}, 0, err
	}
	var ids []CodeID
	for _, a := range issued {
		ids = append(ids, a.ID)
	}
	id, err := s.VerifyReturn(rc, r, ids)
	return id, r.Kind, err
}

func TestPLRFlow(t *testing.T) {
	m := testSigner(t, "m1")
	d := newDevice(t, testKeys(t, m), udiA)
	rc := d.request()
	if again := d.request(); again != rc {
		t.Fatal("Request while one is in progress made a new code")
	}
	first := issuePLR(t, m, rc, false, t0)
	res, err := d.st.Install(d.keys, d.udi, first.Text)
	if err != nil {
		t.Fatal(err)
	}
	if res.Confirmation != "" || res.Updated {
		t.Fatalf("PLR install result %+v", res)
	}
	if again := d.request(); again != rc {
		t.Fatal("Request with a reservation installed made a new code")
	}
	r, err := d.st.Reservation(d.keys, d.udi)
	if err != nil || r.Kind != PLR || r.ExportControl || !r.LimitsAt(t0).Unlimited {
		t.Fatalf("reservation %+v, %v", r, err)
	}
	// A second PLR code, with export control, is applied on top.
	second := issuePLR(t, m, rc, true, t0.Add(time.Hour))
	if _, err := d.st.Install(d.keys, d.udi, second.Text); err != nil {
		t.Fatal(err)
	}
	r, _ = d.st.Reservation(d.keys, d.udi)
	if len(r.Codes) != 2 || !r.ExportControl {
		t.Fatalf("after the second PLR code: %+v", r)
	}
	// Return gives back the instance with its newest code.
	code, err := d.st.Return(d.keys, d.udi)
	if err != nil {
		t.Fatal(err)
	}
	id, kind, err := verifyReturn(t, m, rc, code, first, second)
	if err != nil || id != second.ID || kind != ReturnInstalled {
		t.Fatalf("manager reads the return code as %v %v %v", id, kind, err)
	}
	if d.st.Installed != nil || d.st.Pending != nil {
		t.Fatalf("after Return: %+v", d.st)
	}
	if _, err := d.st.Install(d.keys, d.udi, second.Text); !errors.Is(err, ErrReturned) {
		t.Fatalf("installing a returned code: %v", err)
	}
	if next := d.request(); next == rc {
		t.Fatal("a request after Return reused the returned request")
	}
}

func TestSLRFlowWithUpdate(t *testing.T) {
	m := testSigner(t, "m1")
	d := newDevice(t, testKeys(t, m), udiA)
	rc := d.request()
	a1 := issueSLR(t, m, rc, t0, testEntitlements()...)
	res, err := d.st.Install(d.keys, d.udi, a1.Text)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.VerifyConfirmation(rc, a1.ID, res.Confirmation); err != nil {
		t.Fatalf("manager refuses the device's confirmation: %v", err)
	}
	// Update: fewer rooms, more desktops.
	a2 := issueSLR(t, m, rc, t0.Add(24*time.Hour),
		Room.Entitlement(2, time.Time{}, time.Time{}),
		Desktop.Entitlement(30, date(2026, 5, 1), date(2027, 4, 30)))
	res2, err := d.st.Install(d.keys, d.udi, a2.Text)
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Updated || res2.Confirmation == res.Confirmation {
		t.Fatalf("update result %+v", res2)
	}
	if err := m.VerifyConfirmation(rc, a2.ID, res2.Confirmation); err != nil {
		t.Fatal(err)
	}
	if err := m.VerifyConfirmation(rc, a2.ID, res.Confirmation); !errors.Is(err, ErrWrongConfirmation) {
		t.Fatalf("the first confirmation confirmed the update: %v", err)
	}
	r, err := d.st.Reservation(d.keys, d.udi)
	if err != nil {
		t.Fatal(err)
	}
	l := r.LimitsAt(date(2026, 6, 1))
	if l.Unlimited || l.Counts[Room] != 2 || l.Counts[Desktop] != 30 || l.Counts[RMS] != 0 {
		t.Fatalf("limits after the update: %+v", l)
	}
	// Rolling back to the first code is refused.
	if _, err := d.st.Install(d.keys, d.udi, a1.Text); !errors.Is(err, ErrOlder) {
		t.Fatalf("installing the older code: %v", err)
	}
	code, err := d.st.Return(d.keys, d.udi)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, err := verifyReturn(t, m, rc, code, a1, a2); err != nil || id != a2.ID {
		t.Fatalf("return code: %v %v", id, err)
	}
}

func TestCancelFlow(t *testing.T) {
	m := testSigner(t, "m1")
	d := newDevice(t, testKeys(t, m), udiA)
	rc := d.request()
	a := issuePLR(t, m, rc, true, t0)
	if err := d.st.Cancel(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.st.Install(d.keys, d.udi, a.Text); !errors.Is(err, ErrOtherRequest) {
		t.Fatalf("installing the cancelled request's code: %v", err)
	}
	code, err := d.st.ReturnAuthorization(d.keys, d.udi, a.Text)
	if err != nil {
		t.Fatal(err)
	}
	id, kind, err := verifyReturn(t, m, rc, code, a)
	if err != nil || id != a.ID || kind != ReturnUninstalled {
		t.Fatalf("manager reads the return code as %v %v %v", id, kind, err)
	}
	if _, err := d.st.ReturnAuthorization(d.keys, d.udi, a.Text); !errors.Is(err, ErrReturned) {
		t.Fatalf("returning twice: %v", err)
	}
	// ReturnAuthorization also works on the request in progress, without
	// Cancel first, and finishes it.
	rc2 := d.request()
	b := issueSLR(t, m, rc2, t0, testEntitlements()...)
	if _, err := d.st.ReturnAuthorization(d.keys, d.udi, b.Text); err != nil {
		t.Fatal(err)
	}
	if d.st.Pending != nil {
		t.Fatal("the request is still in progress after its code was returned")
	}
	if _, err := d.st.Install(d.keys, d.udi, b.Text); !errors.Is(err, ErrReturned) {
		t.Fatalf("installing a returned code: %v", err)
	}
}

// TestStateRefusalsChangeNothing offers the device every kind of bad
// input; each is refused with its sentinel and the state file stays
// byte for byte the same.
func TestStateRefusalsChangeNothing(t *testing.T) {
	m, rogue := testSigner(t, "m1"), testSigner(t, "rogue")
	d := newDevice(t, testKeys(t, m), udiA)
	other := newDevice(t, testKeys(t, m), udiB)
	rcOther := other.request()
	rcCancelled := d.request()
	cancelledCode := issueSLR(t, m, rcCancelled, t0, testEntitlements()...)
	if err := d.st.Cancel(); err != nil {
		t.Fatal(err)
	}
	rc := d.request()
	older := issueSLR(t, m, rc, t0, testEntitlements()...)
	installed := issueSLR(t, m, rc, t0.Add(time.Hour), testEntitlements()...)
	if _, err := d.st.Install(d.keys, d.udi, installed.Text); err != nil {
		t.Fatal(err)
	}
	plr := issuePLR(t, m, rc, true, t0.Add(2*time.Hour))
	for _, tc := range []struct {
		name string
		do   func() error
		err  error
	}{
		{"malformed", func() error { _, err := d.st.Install(d.keys, d.udi, "CA1234-5678"); return err }, ErrMalformed},
		{"mistyped", func() error {
			_, err := d.st.Install(d.keys, d.udi, plr.Text[:10]+swapCheck(plr.Text[10:12])+plr.Text[12:])
			return err
		}, ErrMistyped},
		{"oversized", func() error { _, err := d.st.Install(d.keys, d.udi, string(make([]byte, 10<<20))); return err }, ErrOversized},
		{"wrong signature", func() error {
			_, err := d.st.Install(d.keys, d.udi, issueSLR(t, rogue, rc, t0.Add(3*time.Hour), testEntitlements()...).Text)
			return err
		}, ErrSignature},
		{"another UDI", func() error {
			_, err := d.st.Install(d.keys, d.udi, issueSLR(t, m, rcOther, t0.Add(3*time.Hour), testEntitlements()...).Text)
			return err
		}, ErrOtherUDI},
		{"another request", func() error {
			_, err := d.st.Install(d.keys, d.udi, issueSLR(t, m, testRequest(t, udiA, "x").Code, t0.Add(3*time.Hour), testEntitlements()...).Text)
			return err
		}, ErrOtherRequest},
		{"cancelled request", func() error { _, err := d.st.Install(d.keys, d.udi, cancelledCode.Text); return err }, ErrOtherRequest},
		{"older", func() error { _, err := d.st.Install(d.keys, d.udi, older.Text); return err }, ErrOlder},
		{"same again", func() error { _, err := d.st.Install(d.keys, d.udi, installed.Text); return err }, ErrOlder},
		{"PLR over SLR", func() error { _, err := d.st.Install(d.keys, d.udi, plr.Text); return err }, ErrOtherKind},
		{"return authorization of the installed request", func() error {
			_, err := d.st.ReturnAuthorization(d.keys, d.udi, plr.Text)
			return err
		}, ErrInstalled},
		{"cancel with a code installed", d.st.Cancel, ErrInstalled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.snapshot()
			err := tc.do()
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if after := d.snapshot(); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
	// Once returned, the request's codes are refused as returned.
	if _, err := d.st.Return(d.keys, d.udi); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
		err  error
	}{
		{"install returned", func() error { _, err := d.st.Install(d.keys, d.udi, installed.Text); return err }, ErrReturned},
		{"return again", func() error { _, err := d.st.Return(d.keys, d.udi); return err }, ErrNotInstalled},
		{"return authorization of a returned code", func() error {
			_, err := d.st.ReturnAuthorization(d.keys, d.udi, installed.Text)
			return err
		}, ErrReturned},
		{"cancel with nothing pending", d.st.Cancel, ErrNoRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.snapshot()
			if err := tc.do(); !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if after := d.snapshot(); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}

// TestStateSurvivesRestart stores the state as JSON, reads it back as a
// restarted agent would, and checks that the reservation verifies and
// can still be returned.
func TestStateSurvivesRestart(t *testing.T) {
	m := testSigner(t, "m1")
	d := newDevice(t, testKeys(t, m), udiA)
	rc := d.request()
	a := issueSLR(t, m, rc, t0, testEntitlements()...)
	if _, err := d.st.Install(d.keys, d.udi, a.Text); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&d.st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kind":"SLR"`) {
		t.Errorf("state file does not name the kind: %s", b)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	r, err := st.Reservation(d.keys, d.udi)
	if err != nil || r.PIID != rc.PIID() || len(r.Entitlements) != 3 {
		t.Fatalf("reservation after restart: %+v, %v", r, err)
	}
	// Against another trust store (a manager key that is no longer
	// trusted) the installed codes do not verify.
	if _, err := st.Reservation(testKeys(t, testSigner(t, "rogue")), d.udi); !errors.Is(err, ErrSignature) {
		t.Fatalf("installed codes against an untrusted key: %v", err)
	}
	code, err := st.Return(d.keys, d.udi)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := verifyReturn(t, m, rc, code, a); err != nil {
		t.Fatal(err)
	}
}

// TestHardEnforcement judges an SLR reservation the way the agent does:
// once at start. An entitlement that ends while the device runs is still
// allowed by the limits taken at start; a start after the end date stops
// that type.
func TestHardEnforcement(t *testing.T) {
	m := testSigner(t, "m1")
	d := newDevice(t, testKeys(t, m), udiA)
	rc := d.request()
	unknown := Entitlement{Tag: "regid.2016-07.com.example.Other,1.0_x", Count: 1, Validity: Perpetual, DisplayName: "Other", TagDescription: "Other"}
	a := issueSLR(t, m, rc, t0,
		RMS.Entitlement(10, date(2026, 5, 1), date(2026, 6, 30)),
		Room.Entitlement(5, time.Time{}, time.Time{}),
		Desktop.Entitlement(7, date(2026, 8, 1), date(2027, 7, 31)),
		unknown)
	if _, err := d.st.Install(d.keys, d.udi, a.Text); err != nil {
		t.Fatal(err)
	}
	r, err := d.st.Reservation(d.keys, d.udi)
	if err != nil {
		t.Fatal(err)
	}
	atStart := r.LimitsAt(date(2026, 6, 15))
	if atStart.Counts[RMS] != 10 || atStart.Counts[Room] != 5 || len(atStart.Expired) != 0 ||
		!slices.Equal(atStart.NotStarted, []LicenseType{Desktop}) || !slices.Equal(atStart.InvalidTags, []string{unknown.Tag}) {
		t.Fatalf("limits at start: %+v", atStart)
	}
	lastDay := r.LimitsAt(time.Date(2026, 6, 30, 23, 59, 0, 0, time.UTC))
	if lastDay.Counts[RMS] != 10 {
		t.Fatalf("on its last day the RMS entitlement is not counted: %+v", lastDay)
	}
	restart := r.LimitsAt(date(2026, 9, 1))
	if restart.Counts[RMS] != 0 || !slices.Equal(restart.Expired, []LicenseType{RMS}) || restart.Counts[Desktop] != 7 || restart.Counts[Room] != 5 {
		t.Fatalf("limits after a restart past the end date: %+v", restart)
	}
	for _, tc := range []struct {
		l    Limits
		t    LicenseType
		n    int
		want bool
	}{
		{atStart, RMS, 10, true},
		{atStart, RMS, 11, false},
		{atStart, Desktop, 1, false},
		{restart, RMS, 1, false},
		{restart, Desktop, 7, true},
		{Limits{Unlimited: true}, RMS, 100000, true},
	} {
		if got := tc.l.Permits(tc.t, tc.n); got != tc.want {
			t.Errorf("Permits(%s, %d) = %v, want %v", tc.t, tc.n, got, tc.want)
		}
	}
	// Installing a valid newer code clears it.
	b := issueSLR(t, m, rc, t0.AddDate(0, 4, 0), RMS.Entitlement(10, date(2026, 9, 1), date(2027, 8, 31)))
	if _, err := d.st.Install(d.keys, d.udi, b.Text); err != nil {
		t.Fatal(err)
	}
	r, _ = d.st.Reservation(d.keys, d.udi)
	if l := r.LimitsAt(date(2026, 9, 1)); l.Counts[RMS] != 10 || len(l.Expired) != 0 {
		t.Fatalf("after the new code: %+v", l)
	}
}

// TestStateHistoryIsBounded: the state file keeps a bounded history of
// cancelled and returned requests however often the commands run.
func TestStateHistoryIsBounded(t *testing.T) {
	m := testSigner(t, "m1")
	d := newDevice(t, testKeys(t, m), udiA)
	for i := range maxReturned + 5 {
		rc := d.request()
		a := issuePLR(t, m, rc, false, t0.Add(time.Duration(i)*time.Minute))
		if _, err := d.st.ReturnAuthorization(d.keys, d.udi, a.Text); err != nil {
			t.Fatal(err)
		}
	}
	for range maxCancelled + 3 {
		d.request()
		if err := d.st.Cancel(); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.st.Returned) != maxReturned || len(d.st.Cancelled) != maxCancelled {
		t.Fatalf("history: %d returned, %d cancelled", len(d.st.Returned), len(d.st.Cancelled))
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestNewRequestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		udi    UDI
		hostID string
		rand   io.Reader
		want   string
	}{
		{"bad serial", UDI{PID: "Expressway", SN: "08F8-F3C", VID: "1.0"}, "320aa69d", &detReader{}, "serial number"},
		{"bad host id", udiA, "320AA69D", &detReader{}, "host id"},
		{"no randomness", udiA, "320aa69d", failingReader{}, "no entropy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st State
			_, made, err := st.Request(tc.udi, tc.hostID, tc.rand)
			if err == nil || !strings.Contains(err.Error(), tc.want) || made || st.Pending != nil {
				t.Fatalf("Request = %v, made %v, state %+v; want error %q", err, made, st, tc.want)
			}
		})
	}
}
