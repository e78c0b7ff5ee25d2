package webui

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"vxway/clock"
	"vxway/netsettings"
	"vxway/platform"
	"vxway/testsupport"
	"vxway/websession"
	"vxway/websession/websessiontest"
	"vxway/xapi"
	"vxway/xshell"
)

var start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// testDevice is a device tree served by a Server over httptest's TLS.
type testDevice struct {
	root   string
	clock  *clock.Fake
	lic    *fakeLicensing
	srv    *Server
	ts     *httptest.Server
	events *testsupport.SyncBuffer
}

func newTestDevice(t testing.TB) *testDevice {
	t.Helper()
	root := testsupport.DeviceRoot(t, testsupport.ImageInfo(t, "Expressway"))
	c := clock.NewFake(start)
	if err := platform.Boot(root, c); err != nil {
		t.Fatal(err)
	}
	d := &testDevice{root: root, clock: c, lic: newFakeLicensing(), events: &testsupport.SyncBuffer{}}
	pol := DefaultLockout
	pol.Delay = 0
	d.srv = New(Options{Root: root, Clock: c, Licensing: d.lic, Events: d.events, Lockout: &pol, NetworkWait: time.Millisecond})
	d.ts = httptest.NewTLSServer(d.srv)
	t.Cleanup(d.ts.Close)
	return d
}

// browser is one client with its own cookies.
type browser struct {
	t    testing.TB
	d    *testDevice
	c    *http.Client
	csrf string
}

func (d *testDevice) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	c := d.ts.Client()
	c = &http.Client{Transport: c.Transport, Jar: jar}
	return &browser{t: t, d: d, c: c}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path, following redirects, and remembers the page's token.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.d.ts.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body)
}

// post sends a form as the page would (same origin, with the token
// unless the form sets csrf itself).
func (b *browser) post(path string, form url.Values, header ...string) (int, string) {
	b.t.Helper()
	form = maps.Clone(form)
	if _, ok := form[CSRFField]; !ok {
		form.Set(CSRFField, b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.d.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.d.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

func (b *browser) signIn(user, password string) (int, string) {
	b.t.Helper()
	b.get("/login")
	return b.post("/login", url.Values{FieldUsername: {user}, FieldPassword: {password}})
}

func (b *browser) mustSignIn(password string) {
	b.t.Helper()
	if code, body := b.signIn("admin", password); code != http.StatusOK || !strings.Contains(body, "Resource usage") {
		b.t.Fatalf("sign-in = %d:\n%s", code, body)
	}
}

func TestSignInShowsPagesAndBanner(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	code, body := b.get("/")
	if code != http.StatusOK || !strings.Contains(body, `name="username"`) {
		t.Fatalf("GET / = %d, want the sign-in page:\n%s", code, body)
	}
	if strings.Contains(body, "default password") || strings.Contains(body, "Expressway-C") {
		t.Errorf("the sign-in page shows the device's state:\n%s", body)
	}
	if code, _ := b.signIn("root", testsupport.DefaultPassword); code != http.StatusUnauthorized {
		t.Errorf("root signed in: %d", code)
	}
	b.mustSignIn(testsupport.DefaultPassword)
	pages := map[string][]string{
		"/status/overview":             {"Resource usage", "X14.2.0", "Cisco Expressway-C", "Rich Media Sessions", "2300 of 2500", "Approaching the limit", "<th>Borrowed</th><th>Lent</th>", "<td>10</td><td>7</td><td>4</td>"},
		"/status/alarms":               {"40005", "Acknowledge"},
		"/maintenance/smart-licensing": {"Transport settings", "Do not share my hostname or IP address", "Product Instance Registration token", "Licensing status", "License usage", "Update usage details", "License reservation", ">Register<"},
		"/system/service-select":       {"Brand", "Expressway-C", "option keys cannot be added"},
		"/system/network":              {"DNS server 1 address", "NTP server 1"},
		"/users/password":              {"Current password"},
	}
	for path, wants := range pages {
		t.Run(path, func(t *testing.T) {
			code, body := b.get(path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, code)
			}
			for _, w := range append(wants, "Security alert: the admin user has the default password set", `href="/users/password"`) {
				if !strings.Contains(body, w) {
					t.Errorf("%s lacks %q", path, w)
				}
			}
		})
	}
	resp, err := b.c.Get(d.ts.URL + "/maintenance/smart-licensing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{
		"Cache-Control":             "no-store",
		"Strict-Transport-Security": "max-age=31536000",
		"X-Frame-Options":           "DENY",
		"X-Content-Type-Options":    "nosniff",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q lacks %q or allows inline script", csp, want)
		}
	}
	// The session cookie's attributes, from the sign-in answer.
	b2 := d.browser(t)
	b2.get("/login")
	req, _ := http.NewRequest(http.MethodPost, d.ts.URL+"/login", strings.NewReader(url.Values{FieldUsername: {"admin"}, FieldPassword: {testsupport.DefaultPassword}, CSRFField: {b2.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noRedirect := &http.Client{Transport: b2.c.Transport, Jar: b2.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{SessionCookie + "=", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	if !strings.Contains(d.events.String(), `"admin" signed in from 127.0.0.1`) {
		t.Errorf("event log lacks the sign-in:\n%s", d.events.String())
	}
}

// state is everything a refused form must leave alone.
func (d *testDevice) state(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	for _, p := range []string{netsettings.ConfigPath, platform.PasswdPath, platform.SystemConfigPath, platform.AckDir + "/40005.json"} {
		data, err := os.ReadFile(filepath.Join(d.root, p))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		b.WriteString(p + ":" + string(data) + "\n")
	}
	cfg, _ := d.lic.Config(t.Context())
	b.WriteString(strings.Join(d.lic.Calls(), ",") + cfg.URL + string(cfg.Mode))
	return b.String()
}

// forms are one good submission of every state-changing form.
var forms = []struct {
	path string
	form url.Values
}{
	{"/status/alarms", url.Values{"id": {"40005"}}},
	{"/maintenance/smart-licensing", url.Values{"action": {"save"}, fieldMode: {"OnPrem"}, fieldURL: {"https://ssm.example.com/SmartTransport"}}},
	{"/maintenance/smart-licensing", url.Values{"action": {"register"}, fieldToken: {"tok"}}},
	{"/maintenance/smart-licensing", url.Values{"action": {"reservation-enable"}}},
	{"/system/service-select", url.Values{"action": {"save"}, "brand": {"Expressway"}, "type": {"Expressway-E"}}},
	{"/system/network", url.Values{"dhcp": {"On"}, "dns1": {"192.0.2.53"}}},
	{"/users/password", url.Values{fieldCurrent: {testsupport.DefaultPassword}, fieldNew: {"n3w-Passw0rd"}, fieldConfirm: {"n3w-Passw0rd"}}},
	{"/logout", url.Values{}},
}

func TestFormsNeedTheTokenFromTheSameSite(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)
	for _, f := range forms {
		for _, c := range []struct {
			name   string
			token  string
			header []string
		}{
			{"missing token", "", nil},
			{"wrong token", websessiontest.WrongToken(b.csrf), nil},
			{"cross-site", b.csrf, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
			{"cross-site without Origin", b.csrf, []string{"Origin", "", "Sec-Fetch-Site", "cross-site"}},
			{"other Origin, no Sec-Fetch-Site", b.csrf, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", ""}},
			{"Origin null, no Sec-Fetch-Site", b.csrf, []string{"Origin", "null", "Sec-Fetch-Site", ""}},
		} {
			t.Run(f.path+" "+c.name, func(t *testing.T) {
				before := d.state(t)
				form := url.Values{}
				for k, v := range f.form {
					form[k] = v
				}
				form.Set(CSRFField, c.token)
				if code, body := b.post(f.path, form, c.header...); code != http.StatusForbidden {
					t.Errorf("POST %s = %d, want 403:\n%s", f.path, code, body)
				}
				if after := d.state(t); after != before {
					t.Errorf("a refused form changed the device:\n%s\n---\n%s", before, after)
				}
				if _, body := b.get("/status/overview"); !strings.Contains(body, "Resource usage") {
					t.Fatalf("signed out by a refused form (csrf %q)", b.csrf)
				}
			})
		}
	}
	// Signed in still, and every form goes through with the token.
	for _, f := range forms {
		b.get("/status/overview")
		if code, body := b.post(f.path, f.form); code != http.StatusOK {
			t.Errorf("POST %s with the token = %d:\n%s", f.path, code, body)
		}
	}
	if got := d.lic.Calls(); len(got) < 3 {
		t.Errorf("licensing calls %v", got)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	d := newTestDevice(t)
	a, other := d.browser(t), d.browser(t)
	a.mustSignIn(testsupport.DefaultPassword)
	other.mustSignIn(testsupport.DefaultPassword)
	a.get("/users/password")
	code, body := a.post("/users/password", url.Values{fieldCurrent: {testsupport.DefaultPassword}, fieldNew: {"n3w-Passw0rd"}, fieldConfirm: {"n3w-Passw0rd"}})
	if code != http.StatusOK || !strings.Contains(body, "Password changed") || strings.Contains(body, "the admin user has the default password set") {
		t.Fatalf("password change = %d:\n%s", code, body)
	}
	if code, body := other.get("/status/overview"); !strings.Contains(body, `name="username"`) {
		t.Errorf("a session from before the change still shows pages: %d", code)
	}
	if code, _ := other.post("/system/network", url.Values{"dns1": {"192.0.2.9"}}); code != http.StatusForbidden {
		t.Errorf("a session from before the change posted: %d", code)
	}
	// A change on the console (passwd) ends the web sessions too.
	if err := platform.NewUsers(d.root, d.clock).SetPassword("admin", "console-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	if _, body := a.get("/status/overview"); !strings.Contains(body, `name="username"`) {
		t.Error("a password change on the console left the web session alive")
	}
}

func TestSessionTimeouts(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)
	d.clock.Advance(DefaultIdleTimeout - time.Minute)
	if _, body := b.get("/status/alarms"); !strings.Contains(body, "Acknowledge") {
		t.Fatal("signed out before the idle timeout")
	}
	d.clock.Advance(DefaultIdleTimeout)
	if _, body := b.get("/status/alarms"); !strings.Contains(body, `name="username"`) {
		t.Fatal("an idle session outlived the idle timeout")
	}
	b.mustSignIn(testsupport.DefaultPassword)
	for range DefaultMaxLifetime / (20 * time.Minute) {
		d.clock.Advance(20 * time.Minute)
		b.get("/status/alarms")
	}
	if _, body := b.get("/status/alarms"); !strings.Contains(body, `name="username"`) {
		t.Fatal("a busy session outlived the absolute lifetime")
	}
}

func TestBadValuesRefusedWithTheXAPIMessage(t *testing.T) {
	const script = `<script>alert(1)</script>`
	cases := []struct {
		name, path string
		form       url.Values
		want       string // the xAPI's message, as the page shows it
		typed      string // what the page shows again ("" for secrets)
	}{
		{"dns script", "/system/network", url.Values{"dhcp": {"On"}, "dns1": {script}}, "DNS Server 1 Address:", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"dns duplicate", "/system/network", url.Values{"dhcp": {"On"}, "dns1": {"192.0.2.1"}, "dns2": {"192.0.2.1"}}, "is already DNS Server 1", "192.0.2.1"},
		{"ntp too long", "/system/network", url.Values{"dhcp": {"On"}, "ntp1": {strings.Repeat("a", 300)}}, "NTP Server 1 Address:", strings.Repeat("a", 300)},
		{"dhcp off without address", "/system/network", url.Values{"dhcp": {"Off"}}, "set the static address first", ""},
		{"domain", "/system/network", url.Values{"dhcp": {"On"}, "domain": {"bad domain"}}, "DNS Domain Name:", "bad domain"},
		{"url not https", "/maintenance/smart-licensing", url.Values{"action": {"save"}, fieldMode: {"OnPrem"}, fieldURL: {"http://ssm.example.com/SmartTransport"}}, "must start with https://", "http://ssm.example.com/SmartTransport"},
		{"proxy port word", "/maintenance/smart-licensing", url.Values{"action": {"save"}, fieldMode: {"Proxy"}, fieldProxyPort: {"eighty"}}, "is not a number from 1 to 65535", "eighty"},
		{"proxy user colon", "/maintenance/smart-licensing", url.Values{"action": {"save"}, fieldMode: {"Direct"}, fieldProxyUsername: {"a:b" + script}}, "must not contain", "a:b&lt;script&gt;"},
		{"mode unknown", "/maintenance/smart-licensing", url.Values{"action": {"save"}, fieldMode: {script}}, "transport mode", ""},
		{"empty token", "/maintenance/smart-licensing", url.Values{"action": {"register"}, fieldToken: {"  "}}, "invalid registration token", ""},
		{"bad code", "/maintenance/smart-licensing", url.Values{"action": {"reservation-install"}, fieldCode: {script}}, "invalid authorization code", "&lt;script&gt;"},
		{"brand", "/system/service-select", url.Values{"action": {"save"}, "brand": {script}, "type": {"Expressway-C"}}, "invalid value", ""},
		{"vcs again", "/system/service-select", url.Values{"action": {"save"}, "brand": {"VCS"}, "type": {"Expressway-E"}}, "only a factory reset", ""},
		{"short password", "/users/password", url.Values{fieldCurrent: {testsupport.DefaultPassword}, fieldNew: {"short"}, fieldConfirm: {"short"}}, "use at least 8", ""},
		{"default password", "/users/password", url.Values{fieldCurrent: {testsupport.DefaultPassword}, fieldNew: {testsupport.DefaultPassword}, fieldConfirm: {testsupport.DefaultPassword}}, "it is the default password", ""},
		{"mismatch", "/users/password", url.Values{fieldCurrent: {testsupport.DefaultPassword}, fieldNew: {"n3w-Passw0rd"}, fieldConfirm: {"n3w-Passw0rX"}}, "do not match", ""},
		{"wrong current", "/users/password", url.Values{fieldCurrent: {"wrong-password"}, fieldNew: {"n3w-Passw0rd"}, fieldConfirm: {"n3w-Passw0rd"}}, "current password is wrong", ""},
		{"alarm id", "/status/alarms", url.Values{"id": {script}}, "is not a number", ""},
		{"alarm not raised", "/status/alarms", url.Values{"id": {"30041"}}, "alarm not raised", ""},
	}
	d := newTestDevice(t)
	d.lic.st.Reservation.Enabled = true
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.get(c.path)
			before := d.state(t)
			code, body := b.post(c.path, c.form)
			if code < 400 {
				t.Errorf("POST %s = %d, want a refusal", c.path, code)
			}
			if !strings.Contains(body, c.want) {
				t.Errorf("the page lacks the message %q", c.want)
			}
			if c.typed != "" && !strings.Contains(body, c.typed) {
				t.Errorf("the page does not keep what was typed (%q)", c.typed)
			}
			if strings.Contains(body, script) {
				t.Error("the page shows the script unescaped")
			}
			for _, secret := range []string{"n3w-Passw0rd", "wrong-password"} {
				if strings.Contains(body, secret) {
					t.Errorf("the page shows the password %q again", secret)
				}
			}
			if after := d.state(t); after != before {
				t.Errorf("a refused form changed the device:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func TestSignInLockout(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	for i := 1; i <= DefaultLockout.MaxFailures; i++ {
		code, body := b.signIn("admin", "wrong-password")
		if code != http.StatusUnauthorized || !strings.Contains(body, "user name or password is wrong") {
			t.Fatalf("failure %d = %d:\n%s", i, code, body)
		}
	}
	code, body := b.signIn("admin", testsupport.DefaultPassword)
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Sign-in is locked") {
		t.Fatalf("the right password while locked = %d:\n%s", code, body)
	}
	// The source is locked too: another account name from it is refused.
	if code, _ := b.signIn("operator", "x"); code != http.StatusTooManyRequests {
		t.Errorf("another account from the locked source = %d", code)
	}
	d.clock.Advance(DefaultLockout.LockFor - time.Second)
	if code, _ := b.signIn("admin", testsupport.DefaultPassword); code != http.StatusTooManyRequests {
		t.Errorf("signed in before the lock ended: %d", code)
	}
	d.clock.Advance(time.Second)
	b.mustSignIn(testsupport.DefaultPassword)
	ev := d.events.String()
	for _, want := range []string{`sign-in of "admin" from 127.0.0.1 failed (wrong password); 1 failures in a row`, "locked until", `sign-in of "admin" from 127.0.0.1 refused: locked`} {
		if !strings.Contains(ev, want) {
			t.Errorf("event log lacks %q:\n%s", want, ev)
		}
	}
}

func TestFailedSignInIsSlowed(t *testing.T) {
	d := newTestDevice(t)
	pol := DefaultLockout
	d.srv.lockout = websession.NewLockout(d.clock, pol)
	b := d.browser(t)
	b.get("/login")
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, d.ts.URL+"/login", strings.NewReader(url.Values{FieldUsername: {"admin"}, FieldPassword: {"wrong"}, CSRFField: {b.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.c.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	testsupport.Eventually(t, "the failed sign-in waits on the clock", func() bool { return d.clock.Pending() > 0 })
	select {
	case <-done:
		t.Fatal("the failure was answered before its delay")
	default:
	}
	d.clock.Advance(pol.Delay)
	if code := <-done; code != http.StatusUnauthorized {
		t.Errorf("the delayed failure = %d", code)
	}
}

// FuzzForms posts arbitrary values to every form field and checks that
// no page shows them unescaped and nothing breaks.
func FuzzForms(f *testing.F) {
	f.Add(0, "dns1", `<script>alert(1)</script>`)
	f.Add(1, fieldURL, `"><img src=x onerror=alert(1)>`)
	f.Add(2, "key", `</textarea><script>x</script>`)
	f.Add(3, fieldCode, "<b>&amp;")
	d := newTestDevice(f)
	b := d.browser(f)
	b.mustSignIn(testsupport.DefaultPassword)
	f.Fuzz(func(t *testing.T, which int, field, value string) {
		b.t = t
		paths := []string{"/system/network", "/maintenance/smart-licensing", "/system/service-select", "/maintenance/smart-licensing", "/status/alarms"}
		actions := []string{"", "save", "add-key", "reservation-install", ""}
		i := (which%len(paths) + len(paths)) % len(paths)
		// The markers make the value unique on the page: a reflection
		// of it is the value, not the page's own text.
		marked := "zq" + value + "qz"
		form := url.Values{field: {marked}}
		if actions[i] != "" && field != "action" {
			form.Set("action", actions[i])
		}
		if field == CSRFField || field == fieldNew || field == fieldCurrent {
			return
		}
		_, body := b.post(paths[i], form)
		if strings.ContainsAny(value, `<>"'&`) && strings.Contains(body, marked) {
			t.Errorf("%s shows %q unescaped", paths[i], value)
		}
	})
}

// xapiLine runs one xAPI line on the device's tree, as the admin shell
// would.
func (d *testDevice) xapiLine(t *testing.T, line string) string {
	t.Helper()
	req, err := xapi.ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := xshell.NewTree(d.root, d.clock).Serve(t.Context(), req, xapi.NewWriter(&out)); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return out.String()
}

// TestPagesAndXAPIAgree changes settings on the pages and reads them with
// the xAPI, and the other way round: both go through the same owners.
func TestPagesAndXAPIAgree(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)

	b.get("/system/network")
	if code, body := b.post("/system/network", url.Values{"dhcp": {"On"}, "dns1": {"192.0.2.53"}, "domain": {"example.test"}, "ntp2": {"ntp.example.test"}}); code != http.StatusOK {
		t.Fatalf("network form = %d:\n%s", code, body)
	}
	for line, want := range map[string]string{
		"xconfiguration DNS": `DNS Server 1 Address: 192.0.2.53`,
		"xconfiguration NTP": `NTP Server 2 Address: ntp.example.test`,
	} {
		if out := d.xapiLine(t, line); !strings.Contains(out, want) || (line == "xconfiguration DNS" && !strings.Contains(out, `DNS Domain Name: example.test`)) {
			t.Errorf("%s after the page:\n%s", line, out)
		}
	}

	b.get("/status/alarms")
	b.post("/status/alarms", url.Values{"id": {"40005"}})
	if out := d.xapiLine(t, "xstatus Alarm"); !strings.Contains(out, "Acknowledged:") {
		t.Errorf("xstatus Alarm after acknowledging on the page:\n%s", out)
	}

	d.xapiLine(t, "xconfiguration SystemUnit ServiceSelect Type: Expressway-E")
	if _, body := b.get("/system/service-select"); !strings.Contains(body, `<option value="Expressway-E" selected>`) {
		t.Errorf("the Service Select page does not show the type set with the xAPI")
	}
	if _, body := b.get("/status/overview"); !strings.Contains(body, "Cisco Expressway-E") {
		t.Errorf("the overview does not show the type set with the xAPI")
	}
}

// TestServiceSelectConversion converts a VCS to Expressway on the page:
// refused without the confirmation box (nothing changes), done with it,
// and the licensing agent is told at once, as the xAPI does.
func TestServiceSelectConversion(t *testing.T) {
	root := testsupport.DeviceRoot(t, testsupport.ImageInfo(t, "VCS"))
	c := clock.NewFake(start)
	if err := platform.Boot(root, c); err != nil {
		t.Fatal(err)
	}
	d := &testDevice{root: root, clock: c, lic: newFakeLicensing(), events: &testsupport.SyncBuffer{}}
	d.srv = New(Options{Root: root, Clock: c, Licensing: d.lic, NetworkWait: time.Millisecond})
	d.ts = httptest.NewTLSServer(d.srv)
	t.Cleanup(d.ts.Close)
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)
	if _, body := b.get("/system/service-select"); !strings.Contains(body, "cannot be undone") || !strings.Contains(body, "Add option key") {
		t.Errorf("the VCS page lacks the warning or the option key form")
	}
	before := d.state(t)
	code, body := b.post("/system/service-select", url.Values{"action": {"save"}, "brand": {"Expressway"}, "type": {"Expressway-E"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "tick the box to confirm") {
		t.Errorf("conversion without the box = %d", code)
	}
	if after := d.state(t); after != before {
		t.Errorf("a refused conversion changed the device:\n%s\n---\n%s", before, after)
	}
	code, body = b.post("/system/service-select", url.Values{"action": {"save"}, "brand": {"Expressway"}, "type": {"Expressway-E"}, "confirm": {"on"}})
	if code != http.StatusOK || !strings.Contains(body, "Brand set to Expressway") {
		t.Fatalf("conversion with the box = %d:\n%s", code, body)
	}
	cfg, err := platform.LoadSystemConfig(root)
	if err != nil || cfg.Brand != platform.BrandExpressway || cfg.Type != platform.TypeE || !cfg.SmartLicensingEnabled {
		t.Errorf("after the conversion: %+v, %v", cfg, err)
	}
	if calls := d.lic.Calls(); !slices.Contains(calls, "Enable") {
		t.Errorf("the agent was not told: calls %v", calls)
	}
}

// TestSessionTimeoutSetting shortens the idle timeout with the xAPI: live
// sessions follow it.
func TestSessionTimeoutSetting(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)
	if out := d.xapiLine(t, "xconfiguration SystemUnit SessionTimeout"); !strings.Contains(out, "SessionTimeout: 30") {
		t.Errorf("default session timeout:\n%s", out)
	}
	d.xapiLine(t, "xconfiguration SystemUnit SessionTimeout: 5")
	d.clock.Advance(4 * time.Minute)
	if _, body := b.get("/status/alarms"); !strings.Contains(body, "Acknowledge") {
		t.Fatal("signed out before the 5 minutes")
	}
	d.clock.Advance(5 * time.Minute)
	if _, body := b.get("/status/alarms"); !strings.Contains(body, `name="username"`) {
		t.Fatal("a session idle for 5 minutes outlived the 5-minute setting")
	}
}

// TestSourceLockoutSurvivesASuccess: five failures from one address
// within the window lock it even when the administrator signed in from it
// in between: a sign-in does not reset its address's count.
func TestSourceLockoutSurvivesASuccess(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	for i := 1; i < DefaultLockout.MaxFailures; i++ {
		if code, _ := b.signIn("operator", "wrong-password"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d", i, code)
		}
	}
	d.browser(t).mustSignIn(testsupport.DefaultPassword)
	if code, _ := b.signIn("operator", "wrong-password"); code != http.StatusUnauthorized {
		t.Fatalf("fifth failure = %d", code)
	}
	if code, body := d.browser(t).signIn("admin", testsupport.DefaultPassword); code != http.StatusTooManyRequests {
		t.Errorf("a sign-in from the address after its fifth failure = %d, want 429:\n%s", code, body)
	}
}

// TestSignInLockoutAtOnce: sign-ins sent at once cannot outrun the
// lockout: of many wrong passwords sent together, at most MaxFailures are
// checked (answered "wrong"); the rest are refused unchecked (429).
func TestSignInLockoutAtOnce(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	b.get("/login")
	form := websessiontest.Form{URL: d.ts.URL + "/login", Cookie: loginCookie, UserField: FieldUsername, PasswordField: FieldPassword}
	websessiontest.CheckLockoutAtOnce(t, d.ts.Client(), b.c.Jar, form, "admin", 24, DefaultLockout.MaxFailures)
}
