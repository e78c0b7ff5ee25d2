// Package browsertest drives Debian's chromium through chromedp for
// tests, as a user of a web interface would: the device's web interface
// in the VM tests and the license manager's portal in its host test. Only
// tests import it.
package browsertest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is a headless chromium driven through chromedp against one
// HTTPS server.
type Browser struct {
	ctx  context.Context
	base string
	// shots is where screenshots go (VXWAY_SCREENSHOTS, else a test
	// directory).
	shots string
}

// Chromium returns the browser's path (Debian's chromium package); the
// test is skipped when it is missing, and fails under CI.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: apt-get install chromium (ci/host-deps.sh installs it)")
	}
	t.Skip("chromium is not installed: apt-get install chromium (ci/host-deps.sh installs it)")
	return ""
}

// dialTimeout bounds reading a server's certificate.
const dialTimeout = 30 * time.Second

// ServerKeyPin returns the base64 SHA-256 of the public key of the
// certificate served at addr: the browser trusts exactly that key, the
// server's own, and no other certificate error.
func ServerKeyPin(t testing.TB, addr string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: dialTimeout}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("reading the server's certificate at %s: %v", addr, err)
	}
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// New starts a headless chromium for base (https://127.0.0.1:port) that
// trusts the key pinned; it ends with the test.
func New(t testing.TB, base, pin string) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.Flag("ignore-certificate-errors-spki-list", pin),
		chromedp.WindowSize(1280, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	shots := os.Getenv("VXWAY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Browser{ctx: ctx, base: base, shots: shots}
	// The first run starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// pageTimeout bounds one browser step: a page that waits on the agent
// (register, renew) can take a while under software emulation.
const pageTimeout = 2 * time.Minute

func (b *Browser) Do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v\npage:\n%s", what, err, b.BodyText())
	}
}

// Open goes to path and waits for sel.
func (b *Browser) Open(t testing.TB, path, sel string) {
	t.Helper()
	b.Do(t, "opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Submit clicks sel (a form's button) and waits for the page the form
// leads to: the old page is marked, and the wait ends when a loaded page
// lacks the mark.
func (b *Browser) Submit(t testing.TB, sel string) {
	t.Helper()
	b.Do(t, "submitting "+sel,
		b.JS("window.vxOld = true"),
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for {
				done, err := chromedp.Evaluate[bool](`window.vxOld !== true && document.readyState === "complete"`)(ctx, tg)
				if err == nil && done {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("the page did not change: %w", ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
			}
		}),
	)
}

// TypeInto clears the field sel and types s into it.
func (b *Browser) TypeInto(t testing.TB, sel, s string) {
	t.Helper()
	b.Do(t, "typing into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), b.JS(fmt.Sprintf("document.querySelector(%q).value = ''", sel)), chromedp.SendKeys(chromedp.CSS(sel), s))
}

// JS runs a statement in the page through the DevTools protocol (the
// device's pages themselves run no inline script).
func (b *Browser) JS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr+"; true")(ctx, tg)
		return err
	})
}

// SetValue sets a field or a select at once (a paste).
func (b *Browser) SetValue(t testing.TB, sel, s string) {
	t.Helper()
	b.Do(t, "setting "+sel, chromedp.SetValue(chromedp.CSS(sel), s))
}

// Text returns the visible text of sel ("" when it is not on the page).
func (b *Browser) Text(t testing.TB, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil || n == 0 {
		return ""
	}
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// BodyText is the page's visible text, for failure messages.
func (b *Browser) BodyText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if err != nil {
		return fmt.Sprintf("(no page: %v)", err)
	}
	return s
}

// WantText fails the test unless the page shows each of want.
func (b *Browser) WantText(t testing.TB, what string, want ...string) {
	t.Helper()
	body := b.BodyText()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s: the page lacks %q:\n%s", what, w, body)
		}
	}
}

// Screenshot saves the whole page as name.png.
func (b *Browser) Screenshot(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot %s", p)
}
