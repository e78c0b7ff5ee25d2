package ssm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/clock"
	"vxway/licproto"
	"vxway/reservation"
	"vxway/ssm/pgtest"
)

// testManager is a manager served over real HTTPS on 127.0.0.1.
type testManager struct {
	t      *testing.T
	dir    string
	base   string // https://127.0.0.1:port
	url    string // agent endpoint
	clock  *clock.Fake
	http   *http.Client
	verify *licproto.Verifier
	admin  string
}

func startManager(t *testing.T, mode, db string) *testManager {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "m")
	must(t, InitDir(dir, []string{"localhost", "127.0.0.1"}, t0))
	// Tests send many requests from 127.0.0.1 with the clock standing
	// still: no rate limit (TestRateLimit tests it).
	return startManagerWith(t, ServeOptions{Dir: dir, DB: db, Mode: mode, RateLimit: -1})
}

// startManagerWith serves the data directory o.Dir (made by InitDir) on
// 127.0.0.1 with a fake clock at t0.
func startManagerWith(t *testing.T, o ServeOptions) *testManager {
	t.Helper()
	dir := o.Dir
	clk := clock.NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	o.Listen, o.Clock = "127.0.0.1:0", clk
	o.Ready = func(a net.Addr, path string) { ready <- "https://" + a.String() + "|" + path }
	go func() {
		done <- Serve(ctx, o)
	}()
	var got string
	select {
	case got = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base, path, _ := strings.Cut(got, "|")
	pki, err := LoadPKI(dir)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA)
	return &testManager{t: t, dir: dir, base: base, url: base + path, clock: clk, admin: pki.AdminToken,
		http:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second},
		verify: licproto.NewVerifier(pool)}
}

// api calls the admin API and decodes the answer into out.
func (m *testManager) api(method, path string, in, out any) int {
	m.t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	status, b := m.send(method, path, bytes.NewReader(body))
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			m.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return status
}

// send sends body to the admin API as the administrator and returns the
// status and the answer.
func (m *testManager) send(method, path string, body io.Reader) (int, []byte) {
	m.t.Helper()
	req, _ := http.NewRequest(method, m.base+path, body)
	req.Header.Set("Authorization", "Bearer "+m.admin)
	resp, err := m.http.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (m *testManager) token(va string, days, uses int, export bool) string {
	m.t.Helper()
	var out struct{ Token string }
	if st := m.api("POST", "/api/v1/tokens", map[string]any{"va": va, "expires_days": days, "uses": uses, "export_controlled": export}, &out); st != 201 {
		m.t.Fatalf("token create: %d", st)
	}
	return out.Token
}

type device struct {
	udi string
	key *ecdsa.PrivateKey
	c   *licproto.Client
}

func (m *testManager) device(serial string) *device {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(m.t, err)
	return &device{udi: "UDI_PID:Expressway; UDI_SN:" + serial + "; UDI_VID:1.0;", key: k,
		c: &licproto.Client{HTTP: m.http, URL: m.url, Verifier: m.verify, Clock: m.clock}}
}

// do sends one request with the device's next request counter.
func (d *device) do(t licproto.Type, payload, result any) error {
	d.c.Seq++
	_, err := d.c.Do(context.Background(), t, d.udi, d.key, payload, result)
	return err
}

func (d *device) pub() []byte {
	b, _ := x509.MarshalPKIXPublicKey(&d.key.PublicKey)
	return b
}

func (d *device) register(tok string, rereg bool, host string) (*licproto.RegisterResult, error) {
	var res licproto.RegisterResult
	p := &licproto.RegisterPayload{Token: tok, PublicKey: d.pub(), Reregister: rereg}
	if host != "" {
		p.Hostname, p.IP = host, "192.0.2.7"
	}
	err := d.do(licproto.TypeRegister, p, &res)
	return &res, err
}

func (d *device) authorize(usage map[licproto.LicenseType]int) (*licproto.AuthorizeResult, error) {
	var res licproto.AuthorizeResult
	err := d.do(licproto.TypeAuthorize, &licproto.AuthorizePayload{Usage: usage}, &res)
	return &res, err
}

func (m *testManager) setup() {
	for _, c := range []struct {
		path string
		body any
	}{
		{"/api/v1/accounts", map[string]any{"name": "Acme"}},
		{"/api/v1/virtual-accounts", map[string]any{"account": "Acme", "name": "Default"}},
		{"/api/v1/virtual-accounts", map[string]any{"account": "Acme", "name": "Lab"}},
	} {
		if st := m.api("POST", c.path, c.body, nil); st != 201 {
			m.t.Fatalf("POST %s: %d", c.path, st)
		}
	}
	if st := m.api("POST", "/api/v1/licenses", map[string]any{"va": "Default", "type": "rms", "count": 10}, nil); st != 200 {
		m.t.Fatalf("licenses: %d", st)
	}
}

func (m *testManager) events(va string) []Event {
	var out struct{ Events []Event }
	m.api("GET", "/api/v1/events?va="+va, nil, &out)
	return out.Events
}

func TestManagerOverHTTPS(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testManagerOverHTTPS(t, "") })
	t.Run("postgres", func(t *testing.T) { testManagerOverHTTPS(t, pgtest.Start(t)) })
}

func testManagerOverHTTPS(t *testing.T, db string) {
	m := startManager(t, ModeOnPrem, db)
	m.setup()
	tok := m.token("Default", 30, 3, true)

	a := m.device("0000000A")
	res, err := a.register(tok, false, "vcs-a")
	must(t, err)
	if res.SmartAccount != "Acme" || res.VirtualAccount != "Default" || !res.ExportControlled {
		t.Errorf("register result %+v", res)
	}
	cert, err := x509.ParseCertificate(res.Certificate)
	must(t, err)
	pki, _ := LoadPKI(m.dir)
	pool := x509.NewCertPool()
	pool.AddCert(pki.CA)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("identity certificate: %v", err)
	}
	if d := cert.NotAfter.Sub(t0); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("identity certificate valid %s, want one year", d)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(&a.key.PublicKey) || cert.Subject.CommonName != a.udi[:min(64, len(a.udi))] {
		t.Errorf("identity certificate subject %v", cert.Subject)
	}

	got, err := a.authorize(map[licproto.LicenseType]int{licproto.RMS: 7})
	must(t, err)
	if got.State != licproto.StateAuthorized || len(got.Licenses) != 1 || got.Licenses[0].InUse != 7 {
		t.Errorf("authorize %+v", got)
	}
	b := m.device("0000000B")
	_, err = b.register(tok, false, "") // hostname and IP withheld
	must(t, err)
	got, err = b.authorize(map[licproto.LicenseType]int{licproto.RMS: 4})
	must(t, err)
	if got.State != licproto.StateOutOfCompliance {
		t.Errorf("4 more of 3 left: %+v", got)
	}
	var inB Instance
	m.api("GET", "/api/v1/instance?udi="+url.QueryEscape(b.udi), nil, &inB)
	if inB.Hostname != "" || inB.IP != "" || inB.State != "out_of_compliance" {
		t.Errorf("withheld instance %+v", inB)
	}

	// Renew registration: a new certificate, the hostname change pushed.
	var rr licproto.RegisterResult
	err = a.do(licproto.TypeRenewRegistration, &licproto.RenewRegistrationPayload{Hostname: "vcs-a2"}, &rr)
	must(t, err)
	if c2, err := x509.ParseCertificate(rr.Certificate); err != nil || c2.SerialNumber.Cmp(cert.SerialNumber) == 0 {
		t.Errorf("renewal did not issue a new certificate: %v", err)
	}

	// Deregister A: its 7 licenses return, so B becomes compliant.
	err = a.do(licproto.TypeDeregister, &licproto.DeregisterPayload{}, nil)
	must(t, err)
	got, err = b.authorize(map[licproto.LicenseType]int{licproto.RMS: 4})
	must(t, err)
	if got.State != licproto.StateAuthorized {
		t.Errorf("after deregister: %+v", got)
	}
	if _, err := a.authorize(nil); !errors.Is(err, licproto.ErrNotRegistered) {
		t.Errorf("authorize after deregister: %v", err)
	}

	// Reregister B to Lab: needs the flag and a Lab token.
	labTok := m.token("Lab", 30, 0, false)
	if _, err := b.register(labTok, false, ""); !errors.Is(err, licproto.ErrAlreadyRegistered) {
		t.Errorf("register to Lab without reregister: %v", err)
	}
	res, err = b.register(labTok, true, "")
	must(t, err)
	if res.VirtualAccount != "Lab" || res.ExportControlled {
		t.Errorf("reregister %+v", res)
	}
	var lic struct{ Licenses []LicenseCount }
	m.api("GET", "/api/v1/licenses?va=Default", nil, &lic)
	if lic.Licenses[0].InUse != 0 {
		t.Errorf("Default still counts B's usage: %+v", lic)
	}

	var kinds []string
	for _, e := range m.events("Default") {
		kinds = append(kinds, e.Kind)
	}
	want := "registered authorized registered out_of_compliance renewed deregistered authorized reregistered"
	if strings.Join(kinds, " ") != want {
		t.Errorf("events\n got %s\nwant %s", strings.Join(kinds, " "), want)
	}
}

func TestManagerTokenRefusals(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	once := m.token("Default", 30, 1, true)
	short := m.token("Default", 1, 0, true)
	revoked := m.token("Default", 30, 0, true)
	if st := m.api("POST", "/api/v1/tokens/revoke", map[string]any{"token": revoked}, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	_, err := m.device("00000001").register(once, false, "")
	must(t, err)
	m.clock.Advance(25 * time.Hour)
	for _, tc := range []struct {
		name string
		tok  string
		want error
	}{
		{"used up", once, licproto.ErrTokenUsedUp},
		{"expired", short, licproto.ErrTokenExpired},
		{"revoked", revoked, licproto.ErrTokenRevoked},
		{"unknown", "NoSuchTokenAtAllXXXXXXXXXXXXXXX", licproto.ErrUnknownToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(m.events("Default"))
			_, err := m.device("00000002").register(tc.tok, false, "h")
			if !errors.Is(err, tc.want) {
				t.Fatalf("register = %v, want %v", err, tc.want)
			}
			if after := len(m.events("Default")); after != before {
				t.Errorf("refusal changed state: %d events -> %d", before, after)
			}
		})
	}
}

func TestManagerRejectsBadInput(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	d := m.device("0000000C")
	tok := m.token("Default", 30, 0, true)
	_, err := d.register(tok, false, "h")
	must(t, err)
	post := func(body []byte) (int, []byte) {
		resp, err := m.http.Post(m.url, "application/json", bytes.NewReader(body))
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	signed := func(typ licproto.Type, payload any, at time.Time, key *ecdsa.PrivateKey) *licproto.Request {
		r, err := licproto.NewRequest(typ, d.udi, payload, at, key)
		must(t, err)
		return r
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	usage := &licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{licproto.RMS: 9}}
	replayed := signed(licproto.TypeAuthorize, &licproto.AuthorizePayload{}, t0, d.key)
	rb, _ := replayed.Marshal()
	if st, _ := post(rb); st != 200 {
		t.Fatalf("first send: %d", st)
	}
	for _, tc := range []struct {
		name string
		req  *licproto.Request // nil: raw body
		raw  []byte
		want error
	}{
		{"replayed nonce", replayed, rb, licproto.ErrReplay},
		{"stale timestamp", signed(licproto.TypeAuthorize, usage, t0.Add(-10*time.Minute), d.key), nil, licproto.ErrStaleTimestamp},
		{"future timestamp", signed(licproto.TypeAuthorize, usage, t0.Add(time.Hour), d.key), nil, licproto.ErrStaleTimestamp},
		{"wrong key", signed(licproto.TypeAuthorize, usage, t0, other), nil, licproto.ErrNotRegistered},
		{"deregister wrong key", signed(licproto.TypeDeregister, &licproto.DeregisterPayload{}, t0, other), nil, licproto.ErrNotRegistered},
		{"register without possession", func() *licproto.Request {
			r := signed(licproto.TypeRegister, &licproto.RegisterPayload{Token: tok, PublicKey: d.pub()}, t0, other)
			return r
		}(), nil, licproto.ErrBadSignature},
		{"bad usage type", signed(licproto.TypeAuthorize, map[string]any{"usage": map[string]int{"gold": 1}}, t0, d.key), nil, licproto.ErrBadRequest},
		{"malformed", nil, []byte(`{"version":1,"type":"authorize"`), licproto.ErrBadRequest},
		{"oversized", nil, bytes.Repeat([]byte("x"), licproto.MaxBody+100), licproto.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.events("Default")
			body := tc.raw
			if body == nil {
				body, _ = tc.req.Marshal()
			}
			st, ab := post(body)
			if st < 400 {
				t.Errorf("HTTP %d for a refusal", st)
			}
			var a licproto.SignedAnswer
			if err := json.Unmarshal(ab, &a); err != nil {
				t.Fatalf("refusal is not a signed answer: %s", ab)
			}
			var ans licproto.Answer
			json.Unmarshal(a.Answer, &ans)
			if tc.req != nil {
				v, err := m.verify.Verify(tc.req, ab, m.clock.Now(), 0)
				if err != nil {
					t.Fatalf("verifying refusal: %v", err)
				}
				ans = v.Answer
			}
			if !errors.Is(ans.Err(), tc.want) {
				t.Errorf("answer error %v, want %v", ans.Err(), tc.want)
			}
			if after := m.events("Default"); len(after) != len(before) {
				t.Errorf("refusal changed state: %v", after[len(before):])
			}
		})
	}
	var in Instance
	m.api("GET", "/api/v1/instance?udi="+url.QueryEscape(d.udi), nil, &in)
	if len(in.Usage) != 0 {
		t.Errorf("refused requests recorded usage: %+v", in.Usage)
	}
}

func TestAdminAPIAuth(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	for _, tok := range []string{"", "wrong", m.admin + "x"} {
		req, _ := http.NewRequest("GET", m.base+"/api/v1/accounts", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := m.http.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("token %q: HTTP %d, want 401", tok, resp.StatusCode)
		}
	}
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/api/v1/accounts", map[string]any{"name": ""}, 400},
		{"POST", "/api/v1/accounts", map[string]any{"nom": "x"}, 400},
		{"POST", "/api/v1/virtual-accounts", map[string]any{"account": "None", "name": "x"}, 404},
		{"GET", "/api/v1/licenses", nil, 400},
		{"GET", "/api/v1/licenses?va=None", nil, 404},
		{"POST", "/api/v1/tokens", map[string]any{"va": "None"}, 404},
		{"DELETE", "/api/v1/instance?udi=nope", nil, 404},
	} {
		if st := m.api(tc.method, tc.path, tc.body, nil); st != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, st, tc.want)
		}
	}
	m.api("POST", "/api/v1/accounts", map[string]any{"name": "Acme"}, nil)
	if st := m.api("POST", "/api/v1/accounts", map[string]any{"name": "Acme"}, nil); st != 409 {
		t.Errorf("duplicate account: %d", st)
	}
}

func TestCloudModePath(t *testing.T) {
	m := startManager(t, ModeCloud, "")
	if !strings.HasSuffix(m.url, licproto.DirectPath) {
		t.Fatalf("cloud endpoint %s", m.url)
	}
	resp, err := m.http.Post(m.base+licproto.OnPremPath, "application/json", strings.NewReader("{}"))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("on-prem path in cloud mode: %d", resp.StatusCode)
	}
	m.setup()
	_, err = m.device("0000000D").register(m.token("Default", 30, 0, true), false, "")
	must(t, err)
}

func TestInitDirRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	must(t, InitDir(dir, []string{"a.example"}, t0))
	if err := InitDir(dir, []string{"a.example"}, t0); !errors.Is(err, ErrExists) {
		t.Errorf("second init: %v", err)
	}
	if err := InitDir(filepath.Join(dir, "x"), nil, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("no names: %v", err)
	}
	if err := InitDir(filepath.Join(dir, "y"), []string{"bad name"}, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad name: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, CAKeyFile))
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", fi.Mode())
	}
}

func TestAdminAPIReservations(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	udi := reservation.UDI{PID: "Expressway", SN: "0000DDDD", VID: "1.0"}
	var dev reservation.State
	req, _, err := dev.Request(udi, "0a0b0c0f", rand.Reader)
	must(t, err)
	if st := m.api("POST", "/api/v1/reservations/authorize", map[string]any{"va": "Default", "request": req.String(), "licenses": "rms=20"}, nil); st != 400 {
		t.Errorf("over-reserving: HTTP %d", st)
	}
	var out struct {
		Code ReservationCode
	}
	if st := m.api("POST", "/api/v1/reservations/authorize", map[string]any{"va": "Default", "request": req.String(), "licenses": "rms=3"}, &out); st != 201 {
		t.Fatalf("authorize: HTTP %d", st)
	}
	pki, _ := LoadPKI(m.dir)
	ks, err := reservation.NewKeySet(&pki.caKey.PublicKey)
	must(t, err)
	res, err := dev.Install(ks, udi, out.Code.Code)
	must(t, err)
	if st := m.api("POST", "/api/v1/reservations/confirm", map[string]any{"va": "Default", "code": res.Confirmation}, nil); st != 200 {
		t.Errorf("confirm: HTTP %d", st)
	}
	var list struct{ Reservations []ReservationInfo }
	m.api("GET", "/api/v1/reservations?va=Default", nil, &list)
	if len(list.Reservations) != 1 || list.Reservations[0].Blocked[reservation.RMS] != 3 || list.Reservations[0].Codes[0].Code != "" {
		t.Errorf("list %+v", list)
	}
	ret, err := dev.Return(ks, udi)
	must(t, err)
	if st := m.api("POST", "/api/v1/reservations/return", map[string]any{"va": "Default", "code": ret}, nil); st != 200 {
		t.Errorf("return: HTTP %d", st)
	}
	var lic struct{ Licenses []LicenseCount }
	m.api("GET", "/api/v1/licenses?va=Default", nil, &lic)
	if lic.Licenses[0].Reserved != 0 || lic.Licenses[0].Available != 10 {
		t.Errorf("after return %+v", lic.Licenses[0])
	}
}

// TestRegistrationExpiresWithoutRenewal moves the manager's clock: a
// renewal at six months keeps the instance; a year without one ends its
// registration (authorize and renew refused, deregister still frees it).
func TestRegistrationExpiresWithoutRenewal(t *testing.T) {
	m := startManager(t, ModeOnPrem, "")
	m.setup()
	tok := m.token("Default", 30, 0, true)
	a, b := m.device("000000E1"), m.device("000000E2")
	for _, d := range []*device{a, b} {
		_, err := d.register(tok, false, "")
		must(t, err)
	}
	m.clock.Advance(183 * 24 * time.Hour)
	err := a.do(licproto.TypeRenewRegistration, &licproto.RenewRegistrationPayload{}, nil)
	must(t, err)
	m.clock.Advance(183 * 24 * time.Hour) // 366 days after registering
	if _, err := a.authorize(map[licproto.LicenseType]int{licproto.RMS: 1}); err != nil {
		t.Errorf("renewed instance: %v", err)
	}
	_, err = b.authorize(map[licproto.LicenseType]int{licproto.RMS: 1})
	if !errors.Is(err, licproto.ErrNotRegistered) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("instance a year without renewal: %v", err)
	}
	if err := b.do(licproto.TypeRenewRegistration, &licproto.RenewRegistrationPayload{}, nil); !errors.Is(err, licproto.ErrNotRegistered) {
		t.Errorf("renewing an expired registration: %v", err)
	}
	if err := b.do(licproto.TypeDeregister, &licproto.DeregisterPayload{}, nil); err != nil {
		t.Errorf("deregistering an expired registration: %v", err)
	}
}
