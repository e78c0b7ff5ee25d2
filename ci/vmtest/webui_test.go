package vmtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"vxway/browsertest"

	"crypto/tls"
)

// TestWebUI drives the web administration interface in chromium against
// one booted device and a real manager, as an administrator would: sign
// in with the default password and see the alarm banner, change the
// password, register with a token typed into the Smart licensing page
// (a wrong token first, which shows the manager's reason), renew,
// deregister, reserve licenses with codes carried between the page and
// the manager, change DNS and see it in xstatus on the console, and lock
// sign-in with five wrong passwords. Screenshots of every page go to
// VXWAY_SCREENSHOTS (or the test's directory).
func TestWebUI(t *testing.T) {
	RequireVM(t)
	browsertest.Chromium(t)
	mgr := startSSM(t, guestHostAddr, "127.0.0.1", "localhost")
	mgr.Run(t, "account", "create", "Acme")
	mgr.Run(t, "va", "create", "--account", "Acme", "Sales")
	mgr.Run(t, "license", "add", "--va", "Sales", "--type", "rms", "--count", "10")
	token := mgr.Token(t, "--va", "Sales", "--uses", "1", "--export-control")
	img := Image(t, WithTrustedCA(mgr.CAPEM))

	v := Boot(t, img)
	v.WaitReady(t)
	inVM := time.Now()
	addr := fmt.Sprintf("127.0.0.1:%d", v.HTTPSPort)
	base := "https://" + addr
	b := browsertest.New(t, base, browsertest.ServerKeyPin(t, addr))
	const newPassword = "Web-Admin-2026"

	// Sign in with the default password: the alarm banner links to the
	// password page.
	b.Open(t, "/", "#username")
	b.Screenshot(t, "login")
	signIn := time.Now()
	b.TypeInto(t, "#username", "admin")
	b.TypeInto(t, "#password", DefaultAdminPassword)
	b.Submit(t, "#signin")
	t.Logf("sign-in in the browser: %s", time.Since(signIn).Round(time.Millisecond))
	b.WantText(t, "overview after sign-in", "Resource usage", "Security alert: the admin user has the default password set", "Change the admin password")
	if got := b.Text(t, "#serial"); !regexp.MustCompile(`^[0-9A-F]{8}$`).MatchString(got) {
		t.Errorf("overview: serial %q", got)
	}

	// Change the password: the banner goes.
	b.Open(t, "/users/password", "#current")
	b.Screenshot(t, "password")
	b.TypeInto(t, "#current", DefaultAdminPassword)
	b.TypeInto(t, "#new", newPassword)
	b.TypeInto(t, "#confirm", newPassword)
	b.Submit(t, "#change-password")
	b.WantText(t, "password page after the change", "Password changed")
	if strings.Contains(b.BodyText(), "the admin user has the default password set") {
		t.Error("the default-password banner stays after the change")
	}

	// Usage for the authorization to cover, reported by call control.
	v.Login(t, "admin", newPassword)
	wantOK(t, "usage set", xapiLine(t, v, "xcommand License Smart Usage Set Type: rms Count: 2"))

	// Smart licensing: the On-Prem transport, a wrong token (the manager's
	// reason), then the real one.
	b.Open(t, "/maintenance/smart-licensing", "#token")
	b.SetValue(t, "#transport", "OnPrem")
	b.TypeInto(t, "#url", "http://"+guestHostAddr+"/SmartTransport")
	b.Submit(t, "#save")
	b.WantText(t, "an http URL", "must start with https://")
	b.TypeInto(t, "#url", mgr.URL(guestHostAddr))
	b.Submit(t, "#save")
	b.WantText(t, "transport saved", "Smart licensing settings saved.")

	b.TypeInto(t, "#token", "NotAToken"+strings.Repeat("x", 40))
	b.Submit(t, "#register")
	reason := b.Text(t, "#token-error")
	if reason == "" {
		t.Errorf("a wrong token shows no reason:\n%s", b.BodyText())
	}
	t.Logf("wrong token: %s", reason)
	if !strings.Contains(strings.ToLower(reason), "token") {
		t.Errorf("the reason for a wrong token does not name the token: %q", reason)
	}

	b.TypeInto(t, "#token", token)
	b.Submit(t, "#register")
	deadline := time.Now().Add(registrationLimit)
	for {
		b.Open(t, "/maintenance/smart-licensing", "#registration-status")
		if b.Text(t, "#registration-status") == "Registered" && b.Text(t, "#authorization-status") == "Authorized" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not Registered and Authorized after %s of refreshing:\n%s", registrationLimit, b.BodyText())
		}
		time.Sleep(2 * time.Second)
	}
	b.WantText(t, "registered", "Acme", "Sales", "Allowed", "Reregister", "Additional operations", "Rich Media Session")
	b.Screenshot(t, "smart-licensing")
	b.Open(t, "/status/overview", "#resource-usage")
	b.WantText(t, "overview, registered", "Rich Media Sessions", "0 of 2500")
	b.Screenshot(t, "overview")

	// Renew both, then deregister.
	b.Open(t, "/maintenance/smart-licensing", "#operation")
	b.SetValue(t, "#operation", "renew-authorization")
	b.Submit(t, "#run-operation")
	b.WantText(t, "renew authorization", "Authorization renewed: Authorized.")
	b.SetValue(t, "#operation", "renew-registration")
	b.Submit(t, "#run-operation")
	b.WantText(t, "renew registration", "Registration renewed: Registered.")
	b.SetValue(t, "#operation", "deregister")
	b.Submit(t, "#run-operation")
	b.WantText(t, "deregister", "Deregistered.")
	if got := b.Text(t, "#registration-status"); got != "Unregistered" {
		t.Errorf("after Deregister the page shows %q", got)
	}

	// Reservation: the request code from the page goes to the manager, its
	// authorization code is pasted back, the confirmation code shows.
	b.Submit(t, "#reservation-enable")
	b.Submit(t, "#reservation-request")
	req := b.Text(t, "#request-code")
	if !strings.HasPrefix(req, "CB-PExpressway,S") {
		t.Fatalf("no request code on the page:\n%s", b.BodyText())
	}
	b.WantText(t, "request", "Enter the following reservation request code into the CSSM:", "Copy")
	out := strings.TrimSpace(mgr.Run(t, "reservation", "authorize", "--va", "Sales", "--request", req, "--license", "rms=5"))
	code := out[strings.LastIndex(out, "\n")+1:]
	b.SetValue(t, "#code", code)
	b.Submit(t, "#reservation-install")
	b.WantText(t, "install", "Authorization code installed.", "Please enter the confirmation code to CSSM account:")
	conf := b.Text(t, "#flash-code")
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(conf) {
		t.Errorf("confirmation code %q:\n%s", conf, b.BodyText())
	}
	mgr.Run(t, "reservation", "confirm", "--va", "Sales", "--code", conf)
	b.Open(t, "/maintenance/smart-licensing", "#reservation-status")
	if got := b.Text(t, "#reservation-status"); got != "Reserved" {
		t.Errorf("reservation status %q after the install", got)
	}
	b.Screenshot(t, "smart-licensing-reserved")
	b.Submit(t, "#reservation-return")
	b.WantText(t, "return", "Enter the following return code into the CSSM:")
	mgr.Run(t, "reservation", "return", "--va", "Sales", "--code", b.Text(t, "#flash-code"))

	// DNS through the page, seen by xstatus on the console.
	b.Open(t, "/system/network", "#dns1")
	b.TypeInto(t, "#dns1", "10.0.2.3")
	b.Submit(t, "#save")
	b.WantText(t, "network saved", "Network settings saved")
	b.Screenshot(t, "network")
	wantLines(t, "xstatus Network", xapiLine(t, v, "xstatus Network"), `*s Network DNS Server 1 Address: "10.0.2.3"`)

	for _, p := range []struct{ path, sel, name string }{
		{"/status/alarms", "h1", "alarms"},
		{"/system/service-select", "#brand", "service-select"},
	} {
		b.Open(t, p.path, p.sel)
		b.Screenshot(t, p.name)
	}

	// Figures: pages and sign-in served by the device (not asserted).
	measureWeb(t, base, newPassword)

	// The memory of init, which holds the web server (with SSH and the
	// console login).
	v.Logout(t)
	v.Login(t, "root", DefaultRootPassword)
	mem, _ := runRoot(t, v, "cat /proc/1/status")
	var rss []string
	for _, l := range strings.Split(mem, "\n") {
		if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmHWM") {
			rss = append(rss, strings.Join(strings.Fields(l), " "))
		}
	}
	t.Logf("figures: init (web, SSH, console) %s", strings.Join(rss, ", "))

	// Five wrong passwords lock sign-in, even with the right one after.
	b.Submit(t, "#logout")
	for i := range 5 {
		b.TypeInto(t, "#username", "admin")
		b.TypeInto(t, "#password", fmt.Sprintf("wrong-%d", i))
		b.Submit(t, "#signin")
	}
	b.TypeInto(t, "#username", "admin")
	b.TypeInto(t, "#password", newPassword)
	b.Submit(t, "#signin")
	b.WantText(t, "after five failures", "Sign-in is locked")
	t.Logf("VM time of the web checks: %s", time.Since(inVM).Round(time.Second))
}

// measureWeb signs in with Go's client and times twenty overview pages
// and the sign-in (password hashing included), under the guest's
// emulation.
func measureWeb(t *testing.T, base, password string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: CommandTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/login"))
	if tok == nil {
		t.Fatal("no sign-in form")
	}
	// The sign-in alone: its answer is a redirect, not followed here.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := time.Now()
	resp, err := c.PostForm(base+"/login", url.Values{"username": {"admin"}, "password": {password}, "csrf": {tok[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	signIn := time.Since(start)
	c.CheckRedirect = nil
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in answered %s", resp.Status)
	}
	var times []time.Duration
	for range 20 {
		s := time.Now()
		if !strings.Contains(get("/status/overview"), "Resource usage") {
			t.Fatal("the overview page is not shown to the signed-in client")
		}
		times = append(times, time.Since(s))
	}
	slices.Sort(times)
	t.Logf("figures: overview page p50 %s (max %s) over 20, sign-in %s", times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond), signIn.Round(time.Millisecond))
	if tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/status/overview")); tok != nil {
		if resp, err := c.PostForm(base+"/logout", url.Values{"csrf": {tok[1]}}); err == nil {
			resp.Body.Close()
		}
	}
}
