package portal

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"log/slog"

	"vxway/clock"
	"vxway/licproto"
	"vxway/reservation"
	"vxway/ssm"
	"vxway/ssm/pgtest"
	"vxway/testsupport"
	"vxway/websession"
	"vxway/websession/websessiontest"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// password is every test user's password once changed.
const password = "portal-test-password"

// env is a manager's store with two smart accounts, its portal and its
// admin API, served over TLS on loopback.
//
//	Acme: Sales (10 rms, 2 room, a token, instance SALES001 using 3 rms), Lab
//	Beta: Bvirt (5 rms, a token, instance BETA0001)
//
// Users: root (manager-admin), acme (account-admin of Acme), sales
// (va-user of Sales), beta (account-admin of Beta), bvirt (va-user of
// Bvirt).
type env struct {
	t      *testing.T
	store  *ssm.Store
	res    *ssm.Reservations
	portal *Portal
	clock  *clock.Fake
	ts     *httptest.Server
	// sleeps counts the delayed answers to failed sign-ins.
	sleeps atomic.Int64
	// tokenIDs are the registration token ids by virtual account.
	tokenIDs map[string]int64
	apiToken map[string]string
}

const (
	salesUDI = "UDI_PID:Expressway; UDI_SN:SALES001; UDI_VID:1.0;"
	betaUDI  = "UDI_PID:Expressway; UDI_SN:BETA0001; UDI_VID:1.0;"
	adminTok = "global-admin-token-for-tests"
)

func newEnv(t *testing.T) *env { return newEnvOn(t, "") }

// eachDB runs f with an env on SQLite and one on PostgreSQL.
func eachDB(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newEnvOn(t, "")) })
	t.Run("postgres", func(t *testing.T) { f(t, newEnvOn(t, pgtest.Start(t))) })
}

// newEnvOn makes an env whose store is the PostgreSQL database dsn, or a
// SQLite file when dsn is empty.
func newEnvOn(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	must(t, ssm.InitDir(dir, []string{"localhost"}, t0))
	pki, err := ssm.LoadPKI(dir)
	must(t, err)
	if dsn == "" {
		dsn = filepath.Join(dir, ssm.DBFile)
	}
	store, err := ssm.OpenStore(ctx, dsn)
	must(t, err)
	t.Cleanup(func() { store.Close() })
	rs, err := ssm.NewReservations(store, pki)
	must(t, err)
	e := &env{t: t, store: store, res: rs, clock: clock.NewFake(t0), tokenIDs: map[string]int64{}, apiToken: map[string]string{}}
	must(t, store.CreateAccount(ctx, "Acme", t0))
	must(t, store.CreateVA(ctx, "Acme", "Sales", t0))
	must(t, store.CreateVA(ctx, "Acme", "Lab", t0))
	must(t, store.CreateAccount(ctx, "Beta", t0))
	must(t, store.CreateVA(ctx, "Beta", "Bvirt", t0))
	must(t, store.AddLicenses(ctx, "Sales", licproto.RMS, 10))
	must(t, store.AddLicenses(ctx, "Sales", licproto.Room, 2))
	must(t, store.AddLicenses(ctx, "Bvirt", licproto.RMS, 5))
	for va, udi := range map[string]string{"Sales": salesUDI, "Bvirt": betaUDI} {
		tok, info, err := store.CreateToken(ctx, va, ssm.TokenOptions{Description: "seed"}, t0)
		must(t, err)
		e.tokenIDs[va] = info.ID
		_, err = store.Register(ctx, &ssm.Registration{Token: tok, UDI: udi, PublicKey: "key-" + va, CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0), Hostname: "host-" + va, Seq: 1}, t0)
		must(t, err)
		_, err = store.Authorize(ctx, udi, "key-"+va, 2, map[licproto.LicenseType]int{licproto.RMS: 3}, t0)
		must(t, err)
	}
	for _, u := range []struct {
		name        string
		role        ssm.Role
		account, va string
	}{
		{"root", ssm.RoleManagerAdmin, "", ""},
		{"acme", ssm.RoleAccountAdmin, "Acme", ""},
		{"sales", ssm.RoleVAUser, "", "Sales"},
		{"beta", ssm.RoleAccountAdmin, "Beta", ""},
		{"bvirt", ssm.RoleVAUser, "", "Bvirt"},
	} {
		pw, _, err := store.AddUser(ctx, u.name, u.role, u.account, u.va, t0)
		must(t, err)
		_, err = store.ChangePassword(ctx, u.name, pw, password, t0)
		must(t, err)
		tok, _, err := store.CreateUserToken(ctx, u.name, t0)
		must(t, err)
		e.apiToken[u.name] = tok
	}
	e.portal = New(Options{Store: store, Reservations: rs, Clock: e.clock})
	e.portal.sleep = func(time.Duration) { e.sleeps.Add(1) }
	mux := http.NewServeMux()
	mux.Handle("/portal/", e.portal)
	mux.Handle("/api/v1/", ssm.NewAdmin(store, rs, adminTok, e.clock))
	e.ts = httptest.NewTLSServer(mux)
	t.Cleanup(e.ts.Close)
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// state is what a refused request must leave as it was: every virtual
// account's licenses, tokens, instances and events, and the accounts.
func (e *env) state() string {
	ctx := context.Background()
	var b strings.Builder
	accts, err := e.store.Accounts(ctx)
	must(e.t, err)
	fmt.Fprintf(&b, "%v\n", accts)
	for _, a := range accts {
		for _, va := range a.VirtualAccounts {
			l, _ := e.store.Licenses(ctx, va)
			tk, _ := e.store.Tokens(ctx, va)
			in, _ := e.store.Instances(ctx, va)
			ev, _ := e.store.Events(ctx, va, 1000)
			rs, _ := e.res.List(ctx, va)
			fmt.Fprintf(&b, "%s: %v %v %d instances %d events %v\n", va, l, tk, len(in), len(ev), rs)
		}
	}
	return b.String()
}

// client is one browser: its cookies and the CSRF token of its session.
type client struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, c: &http.Client{
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		// Redirects are checked, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(method, path string, form url.Values, header ...string) (int, string, http.Header) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.ts.URL+path, body)
	must(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := c.c.Do(req)
	must(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	code, body, _ := c.do(http.MethodGet, path, nil)
	return code, body
}

// post sends form with the session's CSRF token unless the form has one.
func (c *client) post(path string, form url.Values, header ...string) (int, string) {
	c.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if _, ok := f[websession.CSRFField]; !ok {
		f.Set(websession.CSRFField, c.csrf)
	}
	code, body, _ := c.do(http.MethodPost, path, f, header...)
	return code, body
}

func (c *client) signIn(user, pw string) (int, string) {
	c.t.Helper()
	c.get("/portal/login")
	return c.post("/portal/login", url.Values{FieldUsername: {user}, FieldPassword: {pw}})
}

func (e *env) signedIn(t *testing.T, user string) *client {
	t.Helper()
	c := e.client(t)
	if code, body := c.signIn(user, password); code != http.StatusSeeOther {
		t.Fatalf("sign-in of %s = %d:\n%s", user, code, body)
	}
	if code, body := c.get("/portal/"); code != http.StatusOK {
		t.Fatalf("first page of %s = %d:\n%s", user, code, body)
	}
	return c
}

// api calls the admin API with the bearer token tok.
func (e *env) api(t *testing.T, tok, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.ts.Client().Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A request is one route with its objects; {VA}, {VA2}, {UDI} and
// {TOKEN} stand for the objects of the account under test.
type request struct {
	method, path string
	form         url.Values
	body         string
}

// pageRequests covers every route of Routes() but the user's own pages
// (password, API tokens), which have no object of an account.
func pageRequests() []request {
	return []request{
		{"GET", "/portal/inventory/general?va={VA}", nil, ""},
		{"GET", "/portal/inventory/licenses?va={VA}", nil, ""},
		{"GET", "/portal/inventory/instances?va={VA}", nil, ""},
		{"GET", "/portal/inventory/events?va={VA}", nil, ""},
		{"GET", "/portal/inventory/instances/remove?udi={UDI}", nil, ""},
		{"POST", "/portal/virtual-accounts", url.Values{"account": {"{ACCOUNT}"}, "name": {"NewVA"}}, ""},
		{"POST", "/portal/inventory/tokens", url.Values{"va": {"{VA}"}, "description": {"x"}}, ""},
		{"POST", "/portal/inventory/tokens/revoke", url.Values{"va": {"{VA}"}, "id": {"{TOKEN}"}}, ""},
		{"POST", "/portal/inventory/licenses/transfer", url.Values{"va": {"{VA}"}, "to": {"{VA2}"}, "type": {"rms"}, "count": {"1"}}, ""},
		{"POST", "/portal/inventory/reservation/authorize", url.Values{"va": {"{VA}"}, "request": {"CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcf-AE"}, "kind": {"plr"}}, ""},
		{"POST", "/portal/inventory/reservation/confirm", url.Values{"va": {"{VA}"}, "code": {"08715c93"}}, ""},
		{"POST", "/portal/inventory/instances/remove", url.Values{"udi": {"{UDI}"}}, ""},
		{"POST", "/portal/inventory/instances/return", url.Values{"va": {"{VA}"}, "code": {"CvfS8d-Fx1Yev-qmViq3-1KhkSR-iJfCzN-biB"}}, ""},
		{"POST", "/portal/inventory/instances/transfer", url.Values{"udi": {"{UDI}"}, "to": {"{VA2}"}}, ""},
		{"POST", "/portal/users", url.Values{"name": {"newuser"}, "role": {"va-user"}, "va": {"{VA}"}}, ""},
		{"POST", "/portal/users", url.Values{"name": {"newuser"}, "role": {"account-admin"}, "account": {"{ACCOUNT}"}}, ""},
		{"POST", "/portal/users/reset", url.Values{"name": {"{USER}"}}, ""},
		{"POST", "/portal/users/delete", url.Values{"name": {"{USER}"}}, ""},
	}
}

func apiRequests() []request {
	return []request{
		{"GET", "/api/v1/licenses?va={VA}", nil, ""},
		{"GET", "/api/v1/tokens?va={VA}", nil, ""},
		{"GET", "/api/v1/instances?va={VA}", nil, ""},
		{"GET", "/api/v1/instance?udi={UDI}", nil, ""},
		{"GET", "/api/v1/events?va={VA}", nil, ""},
		{"GET", "/api/v1/reservations?va={VA}", nil, ""},
		{"POST", "/api/v1/virtual-accounts", nil, `{"account":"{ACCOUNT}","name":"NewVA"}`},
		{"POST", "/api/v1/tokens", nil, `{"va":"{VA}"}`},
		{"POST", "/api/v1/tokens/revoke", nil, `{"token":"{TOKEN}"}`},
		{"DELETE", "/api/v1/instance?udi={UDI}", nil, ""},
		{"POST", "/api/v1/instance/transfer", nil, `{"udi":"{UDI}","va":"{VA2}"}`},
		{"POST", "/api/v1/licenses/transfer", nil, `{"from":"{VA}","to":"{VA2}","type":"rms","count":1}`},
		{"POST", "/api/v1/reservations/authorize", nil, `{"va":"{VA}","request":"CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcf-AE","plr":true}`},
		{"POST", "/api/v1/reservations/confirm", nil, `{"va":"{VA}","code":"08715c93"}`},
		{"POST", "/api/v1/reservations/return", nil, `{"va":"{VA}","code":"CvfS8d-Fx1Yev-qmViq3-1KhkSR-iJfCzN-biB"}`},
	}
}

// fill puts objects into a request.
func fill(s string, objs map[string]string) string {
	for k, v := range objs {
		enc := v
		if strings.Contains(s, "?") && strings.Contains(s, "="+k) {
			enc = url.QueryEscape(v)
		}
		s = strings.ReplaceAll(s, k, enc)
	}
	return s
}

func (r request) filled(objs map[string]string) (string, url.Values, string) {
	var form url.Values
	if r.form != nil {
		form = url.Values{}
		for k, v := range r.form {
			form.Set(k, strings.NewReplacer("{VA}", objs["{VA}"], "{VA2}", objs["{VA2}"], "{UDI}", objs["{UDI}"], "{TOKEN}", objs["{TOKEN}"], "{ACCOUNT}", objs["{ACCOUNT}"], "{USER}", objs["{USER}"]).Replace(v[0]))
		}
	}
	return fill(r.path, objs), form, fill(r.body, objs)
}

// TestCrossAccountRefused walks every page, form and API route as users
// of Beta (its administrator and a virtual-account user) asking for
// Acme's objects, and as Sales's user asking for Lab's: each is refused
// as not found (404), and nothing changes.
func TestCrossAccountRefused(t *testing.T) {
	eachDB(t, crossAccountRefused)
}

func crossAccountRefused(t *testing.T, e *env) {
	acme := map[string]string{"{VA}": "Sales", "{VA2}": "Lab", "{UDI}": salesUDI, "{TOKEN}": strconv.FormatInt(e.tokenIDs["Sales"], 10), "{ACCOUNT}": "Acme", "{USER}": "acme"}
	for _, tc := range []struct {
		user string
		objs map[string]string
	}{
		{"beta", acme},
		{"bvirt", acme},
		// Within one smart account: Lab's objects for Sales's user
		// (Sales has the only instance and token, so those are asked
		// for with Lab as the other end).
		{"sales", map[string]string{"{VA}": "Lab", "{VA2}": "Lab", "{UDI}": betaUDI, "{TOKEN}": strconv.FormatInt(e.tokenIDs["Bvirt"], 10), "{ACCOUNT}": "Beta", "{USER}": "bvirt"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := e.signedIn(t, tc.user)
			for _, rq := range pageRequests() {
				path, form, _ := rq.filled(tc.objs)
				t.Run("page "+rq.method+" "+rq.path, func(t *testing.T) {
					before := e.state()
					var code int
					var body string
					if rq.method == "GET" {
						code, body = c.get(path)
					} else {
						code, body = c.post(path, form)
					}
					want := http.StatusNotFound
					if (rq.path == "/portal/virtual-accounts" || strings.HasPrefix(rq.path, "/portal/users")) && tc.user != "beta" {
						want = http.StatusForbidden // a va-user may not create virtual accounts or manage users at all
					}
					if code != want {
						t.Errorf("%s %s = %d, want %d:\n%s", rq.method, path, code, want, body)
					}
					// The refusal may repeat what was asked for (the UDI),
					// never what the manager knows of it.
					for _, secret := range []string{"host-Sales", "key-Sales", "Rich Media Session"} {
						if tc.user != "sales" && strings.Contains(body, secret) {
							t.Errorf("the refusal shows %q", secret)
						}
					}
					if after := e.state(); after != before {
						t.Errorf("a refused request changed the store:\n%s\n---\n%s", before, after)
					}
				})
			}
			for _, rq := range apiRequests() {
				path, _, body := rq.filled(tc.objs)
				if rq.path == "/api/v1/tokens/revoke" {
					body = fill(rq.body, map[string]string{"{TOKEN}": tc.objs["{TOKEN}"]})
				}
				t.Run("api "+rq.method+" "+rq.path, func(t *testing.T) {
					before := e.state()
					code, out := e.api(t, e.apiToken[tc.user], rq.method, path, body)
					want := http.StatusNotFound
					if rq.path == "/api/v1/virtual-accounts" && tc.user != "beta" {
						want = http.StatusForbidden
					}
					if code != want {
						t.Errorf("%s %s %s = %d, want %d: %s", rq.method, path, body, code, want, out)
					}
					if after := e.state(); after != before {
						t.Errorf("a refused request changed the store:\n%s\n---\n%s", before, after)
					}
				})
			}
		})
	}
	t.Run("listings show only the user's scope", func(t *testing.T) {
		_, out := e.api(t, e.apiToken["bvirt"], "GET", "/api/v1/instances", "")
		if strings.Contains(out, "SALES001") || !strings.Contains(out, "BETA0001") {
			t.Errorf("bvirt's instance list: %s", out)
		}
		_, out = e.api(t, e.apiToken["beta"], "GET", "/api/v1/accounts", "")
		if strings.Contains(out, "Acme") || !strings.Contains(out, "Bvirt") {
			t.Errorf("beta's account list: %s", out)
		}
		c := e.signedIn(t, "beta")
		_, body := c.get("/portal/")
		if strings.Contains(body, "Acme") || strings.Contains(body, "Sales") {
			t.Errorf("beta's accounts page shows Acme:\n%s", body)
		}
		_, body = c.get("/portal/inventory/general")
		if !strings.Contains(body, "Bvirt") || strings.Contains(body, "Sales") {
			t.Errorf("beta's inventory shows another account's virtual accounts:\n%s", body)
		}
		_, body = c.get("/portal/users")
		if !strings.Contains(body, `data-user="bvirt"`) || strings.Contains(body, `data-user="acme"`) || strings.Contains(body, `data-user="root"`) {
			t.Errorf("beta's users page shows users it does not manage:\n%s", body)
		}
	})
}

// TestRoleAuthorization checks each route for each role with objects of
// the role's own scope: what the role may do goes through (a redirect
// after a form, a page, an API answer), what it may not is 403.
func TestRoleAuthorization(t *testing.T) {
	// Forbidden routes by role; everything else is allowed.
	forbiddenFor := map[string][]string{
		"acme": {"POST /portal/accounts", "POST /api/v1/accounts", "POST /api/v1/licenses", "GET /api/v1/stats"},
		"sales": {"POST /portal/accounts", "POST /portal/virtual-accounts", "POST /api/v1/accounts", "POST /api/v1/virtual-accounts", "POST /api/v1/licenses", "GET /api/v1/stats",
			"GET /portal/users", "POST /portal/users", "POST /portal/users/reset", "POST /portal/users/delete"},
	}
	type step struct {
		method, path string
		form         url.Values
		body         string
	}
	for _, user := range []string{"root", "acme", "sales"} {
		t.Run(user, func(t *testing.T) {
			e := newEnv(t)
			c := e.signedIn(t, user)
			va2 := "Lab"
			if user == "sales" {
				va2 = "Sales" // a va-user sees one virtual account
			}
			steps := []step{
				{"GET", "/portal/", nil, ""},
				{"GET", "/portal/password", nil, ""},
				{"GET", "/portal/api-token", nil, ""},
				{"POST", "/portal/api-token", url.Values{"action": {"create"}}, ""},
				{"POST", "/portal/accounts", url.Values{"name": {"Gamma"}}, ""},
				{"POST", "/portal/virtual-accounts", url.Values{"account": {"Acme"}, "name": {"NewVA-" + user}}, ""},
				{"GET", "/portal/inventory/general?va=Sales", nil, ""},
				{"GET", "/portal/inventory/licenses?va=Sales", nil, ""},
				{"GET", "/portal/inventory/instances?va=Sales", nil, ""},
				{"GET", "/portal/inventory/events?va=Sales", nil, ""},
				{"POST", "/portal/inventory/tokens", url.Values{"va": {"Sales"}, "description": {"by " + user}, "uses": {"2"}, "expires_days": {"10"}}, ""},
				{"POST", "/portal/inventory/tokens/revoke", url.Values{"va": {"Sales"}, "id": {strconv.FormatInt(e.tokenIDs["Sales"], 10)}}, ""},
				{"POST", "/portal/inventory/licenses/transfer", url.Values{"va": {"Sales"}, "to": {va2}, "type": {"rms"}, "count": {"1"}}, ""},
				{"POST", "/portal/inventory/instances/transfer", url.Values{"udi": {salesUDI}, "to": {va2}}, ""},
				{"GET", "/portal/inventory/instances/remove?udi=" + url.QueryEscape(salesUDI), nil, ""},
				{"GET", "/portal/users", nil, ""},
				{"POST", "/portal/users", url.Values{"name": {"new-" + user}, "role": {"va-user"}, "va": {"Lab"}}, ""},
				{"POST", "/portal/users/reset", url.Values{"name": {"sales"}}, ""},
				{"POST", "/portal/users/delete", url.Values{"name": {"new-" + user}}, ""},
				{"POST", "/portal/inventory/instances/remove", url.Values{"udi": {salesUDI}}, ""},
				{"POST", "/portal/password", url.Values{"current": {password}, "new": {password + "2"}, "confirm": {password + "2"}}, ""},
			}
			for _, s := range steps {
				t.Run(s.method+" "+s.path, func(t *testing.T) {
					var code int
					var body string
					if s.method == "GET" {
						code, body = c.get(s.path)
					} else {
						code, body = c.post(s.path, s.form)
					}
					route := s.method + " " + strings.SplitN(s.path, "?", 2)[0]
					switch {
					case contains(forbiddenFor[user], route):
						if code != http.StatusForbidden {
							t.Errorf("= %d, want 403:\n%s", code, body)
						}
					case user == "sales" && va2 == "Sales" && (strings.Contains(s.path, "transfer")):
						// Within one virtual account there is nothing to
						// transfer to: refused as invalid, not forbidden.
						if code != http.StatusBadRequest {
							t.Errorf("= %d, want 400:\n%s", code, body)
						}
					case s.method == "GET" && code != http.StatusOK, s.method == "POST" && code != http.StatusSeeOther:
						t.Errorf("= %d, want it allowed:\n%s", code, body)
					}
				})
			}
			for _, s := range []step{
				{"GET", "/api/v1/accounts", nil, ""},
				{"POST", "/api/v1/accounts", nil, `{"name":"Delta"}`},
				{"POST", "/api/v1/virtual-accounts", nil, `{"account":"Acme","name":"Api-` + user + `"}`},
				{"POST", "/api/v1/licenses", nil, `{"va":"Sales","type":"rms","count":1}`},
				{"GET", "/api/v1/stats", nil, ""},
				{"GET", "/api/v1/licenses?va=Sales", nil, ""},
				{"POST", "/api/v1/tokens", nil, `{"va":"Sales","description":"api"}`},
				{"GET", "/api/v1/events?va=Sales", nil, ""},
			} {
				t.Run("api "+s.method+" "+s.path, func(t *testing.T) {
					code, out := e.api(t, e.apiToken[user], s.method, s.path, s.body)
					route := s.method + " " + strings.SplitN(s.path, "?", 2)[0]
					if contains(forbiddenFor[user], route) {
						if code != http.StatusForbidden {
							t.Errorf("= %d, want 403: %s", code, out)
						}
					} else if code != http.StatusOK && code != http.StatusCreated {
						t.Errorf("= %d, want it allowed: %s", code, out)
					}
				})
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestFormsNeedTheTokenFromTheSameSite posts every form without the
// session's CSRF token, with a wrong one and cross-site: 403, nothing
// changed, still signed in.
func TestFormsNeedTheTokenFromTheSameSite(t *testing.T) {
	e := newEnv(t)
	c := e.signedIn(t, "root")
	objs := map[string]string{"{VA}": "Sales", "{VA2}": "Lab", "{UDI}": salesUDI, "{TOKEN}": strconv.FormatInt(e.tokenIDs["Sales"], 10), "{ACCOUNT}": "Acme", "{USER}": "sales"}
	reqs := append(pageRequests(), request{"POST", "/portal/accounts", url.Values{"name": {"Gamma"}}, ""},
		request{"POST", "/portal/password", url.Values{"current": {password}, "new": {"another-password"}, "confirm": {"another-password"}}, ""},
		request{"POST", "/portal/api-token", url.Values{"action": {"create"}}, ""},
		request{"POST", "/portal/logout", url.Values{}, ""})
	for _, rq := range reqs {
		if rq.method != "POST" {
			continue
		}
		path, form, _ := rq.filled(objs)
		for _, cs := range []struct {
			name   string
			token  string
			header []string
		}{
			{"missing token", "", nil},
			{"wrong token", websessiontest.WrongToken(c.csrf), nil},
			{"cross-site", c.csrf, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
			{"other Origin", c.csrf, []string{"Origin", "https://evil.example"}},
		} {
			t.Run(rq.path+" "+cs.name, func(t *testing.T) {
				before := e.state()
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				f.Set(websession.CSRFField, cs.token)
				if code, body := c.post(path, f, cs.header...); code != http.StatusForbidden {
					t.Errorf("POST %s = %d, want 403:\n%s", path, code, body)
				}
				if after := e.state(); after != before {
					t.Errorf("a refused form changed the store:\n%s\n---\n%s", before, after)
				}
				if code, _ := c.get("/portal/"); code != http.StatusOK {
					t.Fatalf("signed out by a refused form: %d", code)
				}
			})
		}
	}
}

// TestSignInLockout: five failures lock the account (even for the right
// password) for five minutes, by the injected clock; failures are
// answered after a delay and the password never shows in the log.
func TestSignInLockout(t *testing.T) {
	e := newEnv(t)
	var logs testsupport.SyncBuffer
	e.portal.log = slog.New(slog.NewTextHandler(&logs, nil))
	c := e.client(t)
	for i := 1; i <= websession.DefaultLockout.MaxFailures; i++ {
		if code, body := c.signIn("acme", "wrong-password-"+strconv.Itoa(i)); code != http.StatusUnauthorized || !strings.Contains(body, "wrong") {
			t.Fatalf("failure %d = %d:\n%s", i, code, body)
		}
	}
	if n := e.sleeps.Load(); n != int64(websession.DefaultLockout.MaxFailures) {
		t.Errorf("%d failures were delayed, want %d", n, websession.DefaultLockout.MaxFailures)
	}
	if code, body := c.signIn("acme", password); code != http.StatusTooManyRequests || !strings.Contains(body, "locked") {
		t.Fatalf("right password while locked = %d:\n%s", code, body)
	}
	// Another browser from the same address is locked too.
	if code, _ := e.client(t).signIn("root", password); code != http.StatusTooManyRequests {
		t.Errorf("another user from the locked address = %d, want 429", code)
	}
	e.clock.Advance(websession.DefaultLockout.LockFor)
	if code, body := c.signIn("acme", password); code != http.StatusSeeOther {
		t.Fatalf("after the lock = %d:\n%s", code, body)
	}
	if strings.Contains(logs.String(), "wrong-password") || strings.Contains(logs.String(), password) {
		t.Errorf("the log shows a password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "locked") {
		t.Errorf("the log does not show the lock:\n%s", logs.String())
	}
}

// TestOneTimePassword: a new user sees only the password page until the
// one-time password is changed; the change ends the user's other
// sessions; deleting the user ends the rest.
func TestOneTimePassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pw, _, err := e.store.AddUser(ctx, "newbie", ssm.RoleVAUser, "", "Lab", t0)
	must(t, err)
	a, other := e.client(t), e.client(t)
	for _, c := range []*client{a, other} {
		if code, body, h := c.do("POST", "/portal/login", nil); code != http.StatusForbidden {
			t.Fatalf("sign-in without the form's token = %d %v:\n%s", code, h, body)
		}
		c.get("/portal/login")
		code, body, h := c.do("POST", "/portal/login", url.Values{FieldUsername: {"newbie"}, FieldPassword: {pw}, websession.CSRFField: {c.csrf}})
		if code != http.StatusSeeOther || h.Get("Location") != "/portal/password" {
			t.Fatalf("sign-in with the one-time password = %d to %q:\n%s", code, h.Get("Location"), body)
		}
	}
	if code, _, h := a.do("GET", "/portal/inventory/general?va=Lab", nil); code != http.StatusSeeOther || h.Get("Location") != "/portal/password" {
		t.Fatalf("a page before the change = %d to %q", code, h.Get("Location"))
	}
	a.get("/portal/password")
	before := e.state()
	if code, _ := a.post("/portal/inventory/tokens", url.Values{"va": {"Lab"}}); code != http.StatusForbidden || e.state() != before {
		t.Fatalf("a form before the change = %d", code)
	}
	for _, tc := range []struct {
		name, cur, next, confirm, want string
	}{
		{"wrong current", "nope", "long-enough-pw", "long-enough-pw", "current password is wrong"},
		{"too short", pw, "short", "short", "at least 10"},
		{"differ", pw, "long-enough-pw", "long-enough-pX", "differ"},
		{"same", pw, pw, pw, "is the current one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := a.post("/portal/password", url.Values{"current": {tc.cur}, "new": {tc.next}, "confirm": {tc.confirm}})
			if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("= %d, want 400 saying %q:\n%s", code, tc.want, body)
			}
		})
	}
	if code, _ := a.post("/portal/password", url.Values{"current": {pw}, "new": {"newbie-password"}, "confirm": {"newbie-password"}}); code != http.StatusSeeOther {
		t.Fatalf("the change = %d", code)
	}
	if code, body := a.get("/portal/inventory/general?va=Lab"); code != http.StatusOK || !strings.Contains(body, "Password changed") {
		t.Fatalf("after the change = %d:\n%s", code, body)
	}
	if code, _, h := other.do("GET", "/portal/", nil); code != http.StatusSeeOther || h.Get("Location") != "/portal/login" {
		t.Errorf("the other session after the change = %d to %q", code, h.Get("Location"))
	}
	must(t, e.store.DeleteUser(ctx, "newbie"))
	if code, _, h := a.do("GET", "/portal/", nil); code != http.StatusSeeOther || h.Get("Location") != "/portal/login" {
		t.Errorf("a deleted user's session = %d to %q", code, h.Get("Location"))
	}
}

// TestSessionCookie: the portal's cookie is Secure, HttpOnly,
// SameSite=Strict and limited to /portal/; pages are not cached.
func TestSessionCookie(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.get("/portal/login")
	_, _, h := c.do("POST", "/portal/login", url.Values{FieldUsername: {"root"}, FieldPassword: {password}, websession.CSRFField: {c.csrf}})
	ck := h.Get("Set-Cookie")
	for _, want := range []string{SessionCookie + "=", "Path=/portal/", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %q", ck, want)
		}
	}
	_, _, h = c.do("GET", "/portal/", nil)
	if h.Get("Cache-Control") != "no-store" || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("headers %v", h)
	}
}

// TestFormRefusalsChangeNothing: refused forms show the store's message
// (the CLI's and the API's) and change nothing; what the user typed is
// escaped on the page shown again.
func TestFormRefusalsChangeNothing(t *testing.T) {
	e := newEnv(t)
	c := e.signedIn(t, "acme")
	evil := `<script>alert(1)</script>`
	for _, tc := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/portal/inventory/tokens", url.Values{"va": {"Sales"}, "expires_days": {"400"}, "description": {evil}}, "outside 1..365"},
		{"/portal/inventory/tokens", url.Values{"va": {"Sales"}, "uses": {"many"}, "description": {evil}}, "not a whole number"},
		{"/portal/inventory/tokens", url.Values{"va": {"Sales"}, "description": {strings.Repeat("d", 101)}}, "more than 100"},
		{"/portal/inventory/licenses/transfer", url.Values{"va": {"Sales"}, "to": {"Lab"}, "type": {"rms"}, "count": {"8"}}, "7 rms licenses available"},
		{"/portal/inventory/reservation/authorize", url.Values{"va": {"Sales"}, "request": {evil}, "kind": {"slr"}, "qty_rms": {"1"}}, "request code"},
		{"/portal/inventory/reservation/authorize", url.Values{"va": {"Sales"}, "request": {"x"}, "kind": {"slr"}}, "say what to reserve"},
		{"/portal/inventory/reservation/confirm", url.Values{"va": {"Sales"}, "code": {evil}}, "confirmation"},
		{"/portal/inventory/instances/return", url.Values{"va": {"Sales"}, "code": {evil}}, "return code"},
		{"/portal/inventory/instances/transfer", url.Values{"udi": {salesUDI}, "to": {"Sales"}}, "already in virtual account"},
		{"/portal/virtual-accounts", url.Values{"account": {"Acme"}, "name": {"Lab"}}, "already exists"},
		{"/portal/users", url.Values{"name": {"boss"}, "role": {"manager-admin"}}, "may not add manager administrators"},
		{"/portal/users", url.Values{"name": {evil}, "role": {"va-user"}, "va": {"Lab"}}, "may hold only letters"},
		{"/portal/users", url.Values{"name": {"sales"}, "role": {"va-user"}, "va": {"Lab"}}, "already exists"},
		{"/portal/users/delete", url.Values{"name": {"acme"}}, "cannot delete your own user"},
	} {
		t.Run(tc.path+" "+tc.want, func(t *testing.T) {
			before := e.state()
			code, body := c.post(tc.path, tc.form)
			if code < 400 || code >= 500 || !strings.Contains(strings.ToLower(body), strings.ToLower(tc.want)) {
				t.Errorf("= %d, want a refusal saying %q:\n%s", code, tc.want, body)
			}
			if strings.Contains(body, evil) {
				t.Errorf("the page shows the input unescaped")
			}
			if after := e.state(); after != before {
				t.Errorf("a refused form changed the store:\n%s\n---\n%s", before, after)
			}
		})
	}
}

// TestRoutesListed keeps Routes() in step with the mux: every listed
// route answers a signed-out browser with the sign-in redirect or 403,
// never 404 or 405.
func TestRoutesListed(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	for _, rt := range Routes() {
		method, path, _ := strings.Cut(rt, " ")
		code, _, _ := c.do(method, path, url.Values{})
		if code != http.StatusSeeOther && code != http.StatusForbidden {
			t.Errorf("%s signed out = %d", rt, code)
		}
	}
}

// TestPLRReservation: "Expressway PLR with Export Control" from a
// device's request code takes one plr-ec license and shows the code to
// copy; a second one the account cannot cover is refused with the
// store's reason and changes nothing.
func TestPLRReservation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	must(t, e.store.AddLicenses(ctx, "Sales", "plr-ec", 1))
	req, err := reservation.NewRequest(reservation.UDI{PID: "Expressway", SN: "0A0B0C0D", VID: "1.0"}, "320aa69d", rand.Reader)
	must(t, err)
	c := e.signedIn(t, "sales")
	c.get("/portal/inventory/licenses?va=Sales")
	form := url.Values{"va": {"Sales"}, "request": {req.Code.String()}, "kind": {"plr"}, "export_control": {"on"}}
	if code, body := c.post("/portal/inventory/reservation/authorize", form); code != http.StatusSeeOther {
		t.Fatalf("PLR = %d:\n%s", code, body)
	}
	_, body := c.get("/portal/inventory/licenses?va=Sales")
	m := regexp.MustCompile(`<pre class="code" id="flash-code-0">([^<]+)</pre>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no authorization code on the page:\n%s", body)
	}
	if _, err := reservation.ParseAuthorizationCode(m[1]); err != nil {
		t.Errorf("the code shown %q: %v", m[1], err)
	}
	if !strings.Contains(body, `data-type="plr-ec"`) {
		t.Errorf("the licenses table lacks the PLR licenses:\n%s", body)
	}
	lic, _ := e.store.Licenses(ctx, "Sales")
	for _, l := range lic {
		if l.Type == "plr-ec" && (l.Reserved != 1 || l.Available != 0) {
			t.Errorf("plr-ec after the code: %+v", l)
		}
	}
	before := e.state()
	code, body := c.post("/portal/inventory/reservation/authorize", form)
	if code != http.StatusBadRequest || !strings.Contains(body, "plr-ec") {
		t.Errorf("a second PLR code without licenses = %d:\n%s", code, body)
	}
	if e.state() != before {
		t.Error("the refused PLR code changed the store")
	}
}

// TestSignInLockoutAtOnce: sign-ins sent at once cannot outrun the
// lockout: of many wrong passwords sent together, at most MaxFailures are
// checked (answered "wrong"); the rest are refused unchecked (429).
func TestSignInLockoutAtOnce(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.get("/portal/login")
	form := websessiontest.Form{URL: e.ts.URL + "/portal/login", Cookie: loginCookie, UserField: FieldUsername, PasswordField: FieldPassword}
	websessiontest.CheckLockoutAtOnce(t, e.ts.Client(), c.c.Jar, form, "acme", 24, websession.DefaultLockout.MaxFailures)
}

// TestResetOwnPasswordRefused: the Users page's Reset password is for
// other users. Resetting one's own would end the session that was to
// show the new one-time password, leaving the user with a password
// nobody saw; it is refused, and the password stays.
func TestResetOwnPasswordRefused(t *testing.T) {
	e := newEnv(t)
	c := e.signedIn(t, "acme")
	code, body := c.post("/portal/users/reset", url.Values{"name": {"acme"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Change password") {
		t.Errorf("resetting one's own password = %d, want 400 pointing to Change password:\n%s", code, body)
	}
	if code, _ := c.get("/portal/"); code != http.StatusOK {
		t.Errorf("signed out by the refused reset: %d", code)
	}
	if _, err := e.store.Authenticate(context.Background(), "acme", password); err != nil {
		t.Errorf("the password changed: %v", err)
	}
}

// TestLongUserNameRefused: a user name longer than any user's may be is
// refused as it is, not cut to the length of one: the longest user name
// with a character added does not sign in as that user.
func TestLongUserNameRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	long := strings.Repeat("l", ssm.MaxNameLen)
	pw, _, err := e.store.AddUser(ctx, long, ssm.RoleVAUser, "", "Lab", t0)
	must(t, err)
	_, err = e.store.ChangePassword(ctx, long, pw, password, t0)
	must(t, err)
	if code, body := e.client(t).signIn(long+"x", password); code != http.StatusUnauthorized {
		t.Errorf("sign-in as %q = %d, want 401:\n%s", long+"x", code, body)
	}
	if code, body := e.client(t).signIn(long, password); code != http.StatusSeeOther {
		t.Errorf("sign-in as %q = %d, want 303:\n%s", long, code, body)
	}
}

// TestSignInAndOutSessions: a sign-in always starts a new session (a
// session id planted before it is never taken over), and after sign-out
// the old session id, replayed, opens nothing.
func TestSignInAndOutSessions(t *testing.T) {
	e := newEnv(t)
	u, _ := url.Parse(e.ts.URL + "/portal/")
	c := e.client(t)
	const planted = "planted-session-id"
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: planted, Path: "/portal/"}})
	if code, _ := c.signIn("acme", password); code != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", code)
	}
	var id string
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == SessionCookie {
			id = ck.Value
		}
	}
	if id == "" || id == planted {
		t.Fatalf("the sign-in kept the planted session id %q", id)
	}
	if code, _ := c.get("/portal/"); code != http.StatusOK {
		t.Fatalf("signed in = %d", code)
	}
	if code, _ := c.post("/portal/logout", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("sign-out = %d", code)
	}
	replay := e.client(t)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: id, Path: "/portal/"}})
	if code, _, h := replay.do("GET", "/portal/", nil); code != http.StatusSeeOther || h.Get("Location") != "/portal/login" {
		t.Errorf("the signed-out session id replayed = %d to %q", code, h.Get("Location"))
	}
}

// TestSourceLockoutSurvivesASuccess: five failures from one address
// within the window lock the address, as the docs say, even when a
// sign-in of another user from it succeeded in between: a user of the
// manager cannot reset its address's count to guess other users'
// passwords.
func TestSourceLockoutSurvivesASuccess(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	for i := 1; i < websession.DefaultLockout.MaxFailures; i++ {
		if code, _ := c.signIn("root", "wrong-password"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d", i, code)
		}
	}
	if code, _ := e.client(t).signIn("sales", password); code != http.StatusSeeOther {
		t.Fatalf("sales's sign-in = %d", code)
	}
	if code, _ := c.signIn("acme", "wrong-password"); code != http.StatusUnauthorized {
		t.Fatalf("fifth failure = %d", code)
	}
	if code, body := e.client(t).signIn("bvirt", password); code != http.StatusTooManyRequests {
		t.Errorf("a sign-in from the address after its fifth failure = %d, want 429:\n%s", code, body)
	}
}

// TestChangesFromOtherChannelsEndSessions: a password reset or a user
// deletion made outside the portal (ssm user reset-password or delete,
// another process with its own session table) ends the user's portal
// sessions at their next request. A reset keeps the user's API tokens,
// as docs/manager.md says; a deletion ends them.
func TestChangesFromOtherChannelsEndSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	signedOut := func(c *client) bool {
		code, _, h := c.do("GET", "/portal/", nil)
		return code == http.StatusSeeOther && h.Get("Location") == "/portal/login"
	}
	sales, other := e.signedIn(t, "sales"), e.signedIn(t, "acme")
	if _, err := e.store.ResetPassword(ctx, "sales", t0); err != nil {
		t.Fatal(err)
	}
	if !signedOut(sales) {
		t.Error("the reset user's session still opens pages")
	}
	if signedOut(other) {
		t.Error("another user's session ended with the reset")
	}
	if code, body := e.api(t, e.apiToken["sales"], "GET", "/api/v1/licenses?va=Sales", ""); code != http.StatusOK {
		t.Errorf("the reset user's API token = %d, want 200 (kept):\n%s", code, body)
	}

	bvirt := e.signedIn(t, "bvirt")
	if err := e.store.DeleteUser(ctx, "bvirt"); err != nil {
		t.Fatal(err)
	}
	if !signedOut(bvirt) {
		t.Error("the deleted user's session still opens pages")
	}
	if code, _ := e.api(t, e.apiToken["bvirt"], "GET", "/api/v1/licenses?va=Bvirt", ""); code != http.StatusUnauthorized {
		t.Errorf("the deleted user's API token = %d, want 401", code)
	}
}
