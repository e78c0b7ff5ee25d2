package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"vxway/sysclient"
	"vxway/testsupport"
)

// fakeUpgrader stands for the system service: each upgrade reports the
// URL it was given on asked, writes two progress lines and waits for the
// test's word on release (nil: installed).
type fakeUpgrader struct {
	asked   chan string
	release chan error
}

func newFakeUpgrader() *fakeUpgrader {
	return &fakeUpgrader{asked: make(chan string, 4), release: make(chan error)}
}

func (f *fakeUpgrader) Upgrade(ctx context.Context, u string, progress func(string)) (sysclient.UpgradeResult, error) {
	f.asked <- u
	progress("upgrade: downloading " + sysclient.RedactURL(u))
	progress("upgrade: <b>X14.3.0</b> signature verified")
	if err := <-f.release; err != nil {
		return sysclient.UpgradeResult{}, err
	}
	return sysclient.UpgradeResult{Version: "X14.3.0", Slot: "B"}, nil
}

// waitPage fetches the Upgrade page until it holds want.
func waitPage(t *testing.T, b *browser, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := b.get("/maintenance/upgrade")
		if strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Upgrade page never showed %q:\n%s", want, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUpgradePage: the page shows the software status; bad URLs are
// refused before anything is asked; an upgrade runs past the page's
// answer, shows its progress (escaped) and refuses a second one; its
// result and a failure are shown; a password in the URL shows nowhere.
func TestUpgradePage(t *testing.T) {
	d := newTestDevice(t)
	up := newFakeUpgrader()
	d.srv.upgrader = up
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)

	code, body := b.get("/maintenance/upgrade")
	if code != http.StatusOK || !strings.Contains(body, "LastUpgrade Result</th><td>none") || !strings.Contains(body, "Running</th>") {
		t.Fatalf("upgrade page = %d:\n%s", code, body)
	}
	for _, tt := range []struct{ url, say string }{
		{"", "the URL is missing"},
		{"ftp://host/vxway-2.vxu", "not an http:// or https:// URL"},
		{"http:///vxway-2.vxu", "not an http:// or https:// URL"},
		{"http://host/" + strings.Repeat("a", sysclient.MaxURL), "at most 2048 are accepted"},
	} {
		code, body := b.post("/maintenance/upgrade", url.Values{"url": {tt.url}})
		if code != http.StatusBadRequest || !strings.Contains(body, tt.say) {
			t.Errorf("URL %.40q: %d, want 400 saying %q", tt.url, code, tt.say)
		}
	}
	select {
	case u := <-up.asked:
		t.Fatalf("a refused URL was asked for: %q", u)
	default:
	}

	const withPassword = "http://admin:s3cret-pw@10.0.2.2:8080/vxway-X14.3.0.vxu"
	code, body = b.post("/maintenance/upgrade", url.Values{"url": {withPassword}})
	if code != http.StatusOK || !strings.Contains(body, "Upgrade started") {
		t.Fatalf("starting the upgrade = %d:\n%s", code, body)
	}
	if got := <-up.asked; got != withPassword {
		t.Errorf("the system service was asked for %q", got)
	}
	body = waitPage(t, b, "signature verified")
	if !strings.Contains(body, "In progress") || !strings.Contains(body, "&lt;b&gt;X14.3.0&lt;/b&gt;") || !strings.Contains(body, `id="upgrade" disabled`) {
		t.Errorf("page during the upgrade:\n%s", body)
	}
	resp, err := b.c.Get(d.ts.URL + "/maintenance/upgrade")
	if err != nil {
		t.Fatal(err)
	}
	b.read(resp)
	if resp.Header.Get("Refresh") == "" {
		t.Error("the page does not reload itself during the upgrade")
	}
	code, body = b.post("/maintenance/upgrade", url.Values{"url": {"http://10.0.2.2/other.vxu"}})
	if code != http.StatusConflict || !strings.Contains(body, "is under way") {
		t.Errorf("a second upgrade during the first = %d", code)
	}
	up.release <- nil
	body = waitPage(t, b, "Written and verified")
	if !strings.Contains(body, "version X14.3.0 in slot B") {
		t.Errorf("page after the upgrade:\n%s", body)
	}
	for _, s := range []string{body, d.events.String()} {
		if strings.Contains(s, "s3cret") || !strings.Contains(s, "admin:xxxxx@10.0.2.2") {
			t.Errorf("the URL's password shown, or the URL missing:\n%s", s)
		}
	}

	// A failure is shown with its reason, and another upgrade may start.
	b.post("/maintenance/upgrade", url.Values{"url": {"http://10.0.2.2/old.vxu"}})
	<-up.asked
	up.release <- errors.New("bundle version X14.1.0 is below the minimum version X14.2.0")
	waitPage(t, b, "Failed: bundle version X14.1.0 is below the minimum version")
	if code, _ := b.post("/maintenance/upgrade", url.Values{"url": {"http://10.0.2.2/again.vxu"}}); code != http.StatusOK {
		t.Errorf("an upgrade after a failure = %d", code)
	}
	<-up.asked
	up.release <- nil
	waitPage(t, b, "Written and verified")
}

// TestUpgradePageWithoutService: with no system service the page still
// shows the software and refuses an upgrade, saying why.
func TestUpgradePageWithoutService(t *testing.T) {
	d := newTestDevice(t)
	b := d.browser(t)
	b.mustSignIn(testsupport.DefaultPassword)
	if code, body := b.post("/maintenance/upgrade", url.Values{"url": {"http://10.0.2.2/vxway.vxu"}}); code != http.StatusBadRequest || !strings.Contains(body, "no system service") {
		t.Errorf("upgrade without a system service = %d:\n%s", code, body)
	}
}
