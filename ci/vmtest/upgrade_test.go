package vmtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"vxway/browsertest"
)

// Versions of the upgrade test: 1 is the sample image, 2 a good upgrade,
// 3 an upgrade whose system never comes up.
const (
	upgradeV1 = "X14.2.0-vxway"
	upgradeV2 = "X14.3.0-vxway"
	upgradeV3 = "X14.4.0-vxway"
)

// serveBundles serves the given bundles over HTTP on host loopback and
// returns the URL of each as the guest sees it (10.0.2.2 is the host's
// loopback under QEMU user networking).
func serveBundles(t testing.TB, bundles ...string) []string {
	return serveBundlesWith(t, nil, bundles)
}

// serveBundlesTLS serves the bundles like serveBundles, over HTTPS with
// cert, and returns their https:// URLs as the guest sees them.
func serveBundlesTLS(t testing.TB, cert tls.Certificate, bundles ...string) []string {
	return serveBundlesWith(t, &cert, bundles)
}

// serveBundlesWith serves the bundles over HTTPS with cert, or over HTTP
// without one.
func serveBundlesWith(t testing.TB, cert *tls.Certificate, bundles []string) []string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	if cert != nil {
		scheme = "https"
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		srv.ErrorLog = log.New(io.Discard, "", 0)
	}
	mux := http.NewServeMux()
	var urls []string
	for i, b := range bundles {
		path := fmt.Sprintf("/%d/%s", i, filepath.Base(b))
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, b) })
		urls = append(urls, fmt.Sprintf("%s://10.0.2.2:%d%s", scheme, l.Addr().(*net.TCPAddr).Port, path))
	}
	srv.Handler = mux
	if cert != nil {
		go srv.ServeTLS(l, "", "")
	} else {
		go srv.Serve(l)
	}
	t.Cleanup(func() { srv.Close() })
	return urls
}

// downloadPKI makes a CA (its PEM file in dir) and a server certificate
// it signs for 10.0.2.2, the host as the guest reaches it.
func downloadPKI(t testing.TB, dir, name string) (caFile string, cert tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(crand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	caFile = filepath.Join(dir, name+".crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "10.0.2.2"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("10.0.2.2")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var upgradeDurationRE = regexp.MustCompile(`\*r SystemUnit Upgrade Duration: "([^"]+)"`)

// upgradeOverXAPI runs the upgrade command as admin and waits for the
// device to be ready again; it returns the command's output and the time
// from the command to ready.
func upgradeOverXAPI(t testing.TB, v *VM, url string) (string, time.Duration) {
	t.Helper()
	v.Login(t, "admin", DefaultAdminPassword)
	start := time.Now()
	out := v.XAPI(t, fmt.Sprintf(`xcommand SystemUnit Upgrade URL: "%s"`, url))
	if !strings.Contains(out, "\nOK") && !strings.HasPrefix(out, "OK") {
		t.Fatalf("upgrade refused:\n%s", out)
	}
	v.WaitReady(t)
	return out, time.Since(start)
}

// TestUpgrade boots version 1, which trusts a test CA for HTTPS
// downloads, is refused version 2 from an HTTPS server whose CA it does
// not trust, upgrades to 2 over HTTPS from one it trusts (2 runs, 1 is
// kept in the other slot), is refused a downgrade back to 1 (over HTTP),
// then upgrades to 3 over HTTP from the web interface's Upgrade page,
// which never comes up: after its three
// tries systemd-boot boots 2 again by itself, and 2 raises the alarm
// naming 3.
func TestUpgrade(t *testing.T) {
	RequireVM(t)
	browsertest.Chromium(t)
	pki := t.TempDir()
	ca, cert := downloadPKI(t, pki, "bundle-server-ca")
	_, untrusted := downloadPKI(t, pki, "another-ca")
	img := Image(t, WithUpgradeCA(ca))
	b1 := Bundle(t, WithUpgradeCA(ca))
	b2 := Bundle(t, WithVersion(upgradeV2))
	b3 := Bundle(t, WithVersion(upgradeV3), WithCmdline(BrokenCmdline))
	urls := serveBundles(t, b1, b2, b3)
	httpsURL := serveBundlesTLS(t, cert, b2)[0]
	untrustedURL := serveBundlesTLS(t, untrusted, b2)[0]

	v := Boot(t, img)
	v.WaitReady(t)
	v.Login(t, "admin", DefaultAdminPassword)
	refused := v.XAPI(t, fmt.Sprintf(`xcommand SystemUnit Upgrade URL: "%s"`, untrustedURL))
	wantLines(t, "download from an untrusted server", refused, "certificate is not trusted", "ERROR")
	v.Logout(t)
	out, took := upgradeOverXAPI(t, v, httpsURL)
	wantLines(t, "upgrade to 2", out, `*r SystemUnit Upgrade Version: "`+upgradeV2+`"`, `*r SystemUnit Upgrade Slot: "B"`)
	if m := upgradeDurationRE.FindStringSubmatch(out); m != nil {
		t.Logf("upgrade 1 -> 2 over HTTPS: download, checks and write %s; command to ready %s", m[1], took.Round(100*time.Millisecond))
	}

	v.Login(t, "admin", DefaultAdminPassword)
	st := v.XAPI(t, "xstatus SystemUnit Software")
	wantLines(t, "after the upgrade to 2", st,
		`*s SystemUnit Software Running: "B"`, `*s SystemUnit Software Next: "B"`,
		`*s SystemUnit Software Slot A Version: "`+upgradeV1+`"`, `*s SystemUnit Software Slot A State: "good"`,
		`*s SystemUnit Software Slot B Version: "`+upgradeV2+`"`, `*s SystemUnit Software Slot B State: "good"`,
		`*s SystemUnit Software LastUpgrade Result: "installed"`, `*s SystemUnit Software MinimumVersion: "`+upgradeV2+`"`)
	wantLines(t, "version", v.XAPI(t, "xstatus SystemUnit Software Version"), `"`+upgradeV2+`"`)
	// Version 1 is below the minimum now: refused, nothing written.
	refused = v.XAPI(t, fmt.Sprintf(`xcommand SystemUnit Upgrade URL: "%s"`, urls[0]))
	wantLines(t, "downgrade", refused, "below the minimum version", "--allow-downgrade", "ERROR")
	v.Logout(t)

	// Version 3 is installed from the web interface's Upgrade page. It
	// panics at each of its three tries (each try gets a boot's time),
	// then version 2 comes up again by itself.
	addr := fmt.Sprintf("127.0.0.1:%d", v.HTTPSPort)
	b := browsertest.New(t, "https://"+addr, browsertest.ServerKeyPin(t, addr))
	webSignIn(t, b)
	b.Open(t, "/maintenance/upgrade", "#url")
	b.WantText(t, "Upgrade page", "Slot B Version\t"+upgradeV2, "LastUpgrade Result\tinstalled")
	start := time.Now()
	b.TypeInto(t, "#url", urls[2])
	b.Submit(t, "#upgrade")
	b.WantText(t, "Upgrade page after the upgrade started", "Upgrade started", urls[2])
	b.Screenshot(t, "upgrade")
	for try := 1; try <= 3; try++ {
		v.WaitFor(t, "Kernel panic", BootTimeout)
	}
	v.WaitReady(t)
	t.Logf("upgrade to the broken 3 until 2 is ready again: %s", time.Since(start).Round(100*time.Millisecond))
	if tries := strings.Count(v.Transcript(), "Kernel panic"); tries != 3 {
		t.Errorf("version 3 was tried %d times, want 3", tries)
	}
	v.Login(t, "admin", DefaultAdminPassword)
	st = v.XAPI(t, "xstatus SystemUnit Software")
	wantLines(t, "after the failed upgrade to 3", st,
		`*s SystemUnit Software Running: "B"`, `*s SystemUnit Software Next: "B"`,
		`*s SystemUnit Software Slot A Version: "`+upgradeV3+`"`, `*s SystemUnit Software Slot A State: "bad"`,
		`*s SystemUnit Software LastUpgrade Result: "failed"`, upgradeV3+` did not start in 3 tries`)
	wantLines(t, "alarms", v.XAPI(t, "xstatus Alarm"), " Id: 46001\n", "version "+upgradeV3+" failed")
	wantLines(t, "version", v.XAPI(t, "xstatus SystemUnit Software Version"), `"`+upgradeV2+`"`)
	v.Logout(t)
	webSignIn(t, b)
	b.Open(t, "/maintenance/upgrade", "#url")
	b.WantText(t, "Upgrade page after the rollback", "Running\tB", "Slot A State\tbad", "LastUpgrade Result\tfailed", upgradeV3+" did not start in 3 tries")
}

// webSignIn signs in to the web interface as admin.
func webSignIn(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	b.Open(t, "/", "#username")
	b.TypeInto(t, "#username", "admin")
	b.TypeInto(t, "#password", DefaultAdminPassword)
	b.Submit(t, "#signin")
	b.WantText(t, "overview after sign-in", "Resource usage")
}

// TestUpgradePowerCut cuts the power (kills QEMU) at a random moment of
// the slot write of an upgrade started by root's upgrade command (0-20 s
// after it says it writes, so some cuts land after the entry, in the
// reboot or in the new version's first boot); the next
// boot must come up, on version 1 with the upgrade recorded as
// interrupted, or on version 2 installed when the entry had been written.
// It runs VXWAY_UPGRADE_POWERCUT_TRIALS trials (make test-upgrade-powercut
// runs 10); without it, it is skipped.
func TestUpgradePowerCut(t *testing.T) {
	trials, _ := strconv.Atoi(os.Getenv("VXWAY_UPGRADE_POWERCUT_TRIALS"))
	if trials <= 0 {
		t.Skip("set VXWAY_UPGRADE_POWERCUT_TRIALS (make test-upgrade-powercut) to run the power-cut trials")
	}
	img := Image(t)
	urls := serveBundles(t, Bundle(t, WithVersion(upgradeV2)))
	for i := 0; i < trials; i++ {
		t.Run(fmt.Sprintf("trial%d", i+1), func(t *testing.T) {
			v := Boot(t, img)
			v.WaitReady(t)
			v.Login(t, "root", DefaultRootPassword)
			v.Send(t, "upgrade "+urls[0]+"\r")
			v.WaitFor(t, "upgrade: writing slot B", 3*CommandTimeout)
			delay := time.Duration(rand.IntN(20000)) * time.Millisecond
			time.Sleep(delay)
			v.Kill(t)
			v.Start(t)
			v.WaitReady(t)
			v.Login(t, "admin", DefaultAdminPassword)
			st := v.XAPI(t, "xstatus SystemUnit Software")
			switch {
			case strings.Contains(st, `Running: "A"`):
				wantLines(t, fmt.Sprintf("cut %s into the write, back on 1", delay), st, `LastUpgrade Result: "interrupted"`, `Slot A State: "good"`)
			case strings.Contains(st, `Running: "B"`):
				wantLines(t, fmt.Sprintf("cut %s into the write, on 2", delay), st, `LastUpgrade Result: "installed"`, `Slot B State: "good"`)
			default:
				t.Errorf("cut %s into the write: no running slot:\n%s", delay, st)
			}
			t.Logf("cut %s into the write: %s", delay, regexp.MustCompile(`Running: "[AB]"`).FindString(st))
			v.Kill(t)
		})
	}
}

// BenchmarkUpgrade times one upgrade over HTTP: the command (download,
// checks, write, read back) and the whole way to ready on the new version.
func BenchmarkUpgrade(b *testing.B) {
	img := Image(b)
	urls := serveBundles(b, Bundle(b, WithVersion(upgradeV2)))
	for i := 0; i < b.N; i++ {
		v := Boot(b, img)
		v.WaitReady(b)
		out, took := upgradeOverXAPI(b, v, urls[0])
		if m := upgradeDurationRE.FindStringSubmatch(out); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil {
				b.ReportMetric(d.Seconds(), "write-s")
			}
		}
		b.ReportMetric(took.Seconds(), "to-ready-s")
		v.Kill(b)
	}
}
