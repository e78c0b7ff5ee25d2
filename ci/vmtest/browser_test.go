package vmtest

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

// browser drives Debian's chromium through chromedp against the device's
// web interface, as an administrator would.
type browser struct {
	ctx  context.Context
	base string
	// shots is where screenshots go (VXWAY_SCREENSHOTS, else a test
	// directory).
	shots string
}

// chromium finds the browser (Debian's chromium package).
func chromium(t *testing.T) string {
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

// serverKeyPin returns the base64 SHA-256 of the public key of the
// certificate served at addr: the browser trusts exactly that key, the
// device's self-signed one, and no other certificate error.
func serverKeyPin(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: CommandTimeout}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("reading the device's certificate at %s: %v", addr, err)
	}
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// newBrowser starts a headless chromium for base (https://127.0.0.1:port)
// that trusts the key pinned.
func newBrowser(t *testing.T, base, pin string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
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
	b := &browser{ctx: ctx, base: base, shots: shots}
	// The first run starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// pageTimeout bounds one browser step: a page that waits on the agent
// (register, renew) can take a while under software emulation.
const pageTimeout = 2 * time.Minute

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v\npage:\n%s", what, err, b.bodyText())
	}
}

// open goes to path and waits for sel.
func (b *browser) open(t *testing.T, path, sel string) {
	t.Helper()
	b.do(t, "opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// submit clicks sel (a form's button) and waits for the page the form
// leads to: the old page is marked, and the wait ends when a loaded page
// lacks the mark.
func (b *browser) submit(t *testing.T, sel string) {
	t.Helper()
	b.do(t, "submitting "+sel,
		b.js("window.vxOld = true"),
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

// typeInto clears the field sel and types s into it.
func (b *browser) typeInto(t *testing.T, sel, s string) {
	t.Helper()
	b.do(t, "typing into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), b.js(fmt.Sprintf("document.querySelector(%q).value = ''", sel)), chromedp.SendKeys(chromedp.CSS(sel), s))
}

// js runs a statement in the page through the DevTools protocol (the
// device's pages themselves run no inline script).
func (b *browser) js(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr+"; true")(ctx, tg)
		return err
	})
}

// setValue sets a field or a select at once (a paste).
func (b *browser) setValue(t *testing.T, sel, s string) {
	t.Helper()
	b.do(t, "setting "+sel, chromedp.SetValue(chromedp.CSS(sel), s))
}

// text returns the visible text of sel ("" when it is not on the page).
func (b *browser) text(t *testing.T, sel string) string {
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

// bodyText is the page's visible text, for failure messages.
func (b *browser) bodyText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if err != nil {
		return fmt.Sprintf("(no page: %v)", err)
	}
	return s
}

// wantText fails the test unless the page shows each of want.
func (b *browser) wantText(t *testing.T, what string, want ...string) {
	t.Helper()
	body := b.bodyText()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s: the page lacks %q:\n%s", what, w, body)
		}
	}
}

// screenshot saves the whole page as name.png.
func (b *browser) screenshot(t *testing.T, name string) {
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
