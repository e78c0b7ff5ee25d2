package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/testsupport"
)

const tinyproxyBin = "/usr/bin/tinyproxy"

// startTinyproxy runs Debian's tinyproxy on loopback with Basic auth.
func startTinyproxy(t *testing.T, user, pass string) (port int, logs *testsupport.SyncBuffer) {
	t.Helper()
	if _, err := os.Stat(tinyproxyBin); err != nil {
		t.Skipf("tinyproxy is not installed (apt-get install tinyproxy): %v", err)
	}
	port = freePort(t)
	conf := filepath.Join(t.TempDir(), "tinyproxy.conf")
	mustWrite(t, conf, []byte(fmt.Sprintf("Port %d\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\nMaxClients 8\nAllow 127.0.0.1\nBasicAuth %s %s\n", port, user, pass)))
	logs = &testsupport.SyncBuffer{}
	cmd := exec.Command(tinyproxyBin, "-d", "-c", conf)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testsupport.Eventually(t, "tinyproxy to listen", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port, logs
}

// TestProxyAndPrivacy registers through a real forward proxy with Basic
// auth to the cloud (Direct URL) endpoint, with the privacy flag on, and
// checks that the manager never learns the hostname or IP.
func TestProxyAndPrivacy(t *testing.T) {
	m := newManager(t, "cloud")
	d := newDevice(t, filepath.Join(m.data, "ca.crt"), m.url())
	port, plogs := startTinyproxy(t, "vxuser", "pr0xy-Secret")
	tok := m.token("--va", "Sales")

	d.ok("xconfiguration License Smart Privacy HideHostname: On")
	d.ok("xconfiguration License Smart Transport Mode: Proxy")
	d.fails(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tok), "proxy address and port are not set")
	d.ok("xconfiguration License Smart Transport Proxy Address: 127.0.0.1")
	d.ok(fmt.Sprintf("xconfiguration License Smart Transport Proxy Port: %d", port))
	d.ok("xconfiguration License Smart Transport Proxy Username: vxuser")
	d.ok(`xconfiguration License Smart Transport Proxy Password: "wrong"`)
	d.fails(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tok), "check the proxy username and password")
	d.ok("xcommand License Smart Deregister") // cancels the pending registration
	d.ok(`xconfiguration License Smart Transport Proxy Password: "pr0xy-Secret"`)
	d.ok(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tok))
	if got := d.status("Registration Status"); got != "Registered" {
		t.Fatalf("through the proxy: %q", got)
	}
	d.ok("xcommand License Smart Usage Set Type: rms Count: 1")
	d.ok("xcommand License Smart UpdateUsage")
	d.ok("xcommand License Smart RenewRegistration")
	if got := d.status("Authorization Status"); got != "Authorized" {
		t.Errorf("through the proxy: authorization %q", got)
	}
	if !strings.Contains(plogs.String(), "CONNECT") {
		t.Errorf("tinyproxy saw no CONNECT; was the proxy used?\n%s", plogs.String())
	}

	udi := d.status("InstanceId")
	show := m.ok("instance", "show", udi)
	if strings.Contains(show, "vxtest") || !regexp.MustCompile(`(?m)^Hostname:\s+-$`).MatchString(show) || !regexp.MustCompile(`(?m)^IP:\s+-$`).MatchString(show) {
		t.Errorf("with the privacy flag the manager stored a hostname or IP:\n%s", show)
	}
	events := m.ok("events", "--va", "Sales")
	if !strings.Contains(events, "hostname and IP withheld") || strings.Contains(events, "vxtest") {
		t.Errorf("manager events:\n%s", events)
	}
	cfg := d.ok("xconfiguration License Smart")
	if strings.Contains(cfg, "pr0xy-Secret") || strings.Contains(d.ok("xstatus License Smart"), "pr0xy-Secret") {
		t.Error("the proxy password is shown")
	}
	if strings.Contains(d.logs.String(), "pr0xy-Secret") || strings.Contains(d.logs.String(), tok) {
		t.Errorf("the agent log shows a secret:\n%s", d.logs.String())
	}
	if strings.Contains(m.logs.String(), "vxtest") {
		t.Error("the manager log shows the withheld hostname")
	}
}

// interceptor is a TLS-intercepting forward proxy: it accepts CONNECT and
// then terminates TLS itself with a certificate from its own CA.
func interceptor(t *testing.T) int {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Intercepting Proxy CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if tc.Handshake() != nil {
					return
				}
				http.ReadRequest(bufio.NewReader(tc))
				io.WriteString(tc, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			}(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestInterceptingProxyUnknownCA: a proxy that terminates TLS with a CA
// the image does not pin fails with "Unknown CA".
func TestInterceptingProxyUnknownCA(t *testing.T) {
	m := newManager(t, "cloud")
	d := newDevice(t, filepath.Join(m.data, "ca.crt"), m.url())
	port := interceptor(t)
	tok := m.token("--va", "Sales")
	d.ok("xconfiguration License Smart Transport Mode: Proxy")
	d.ok("xconfiguration License Smart Transport Proxy Address: 127.0.0.1")
	d.ok(fmt.Sprintf("xconfiguration License Smart Transport Proxy Port: %d", port))
	d.fails(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tok), "Unknown CA")
	if got := d.status("Registration Status"); got != "Unregistered: Registration Pending" {
		t.Errorf("registration %q", got)
	}
	if r := d.status("FailureReason"); !strings.Contains(r, "Unknown CA") {
		t.Errorf("failure reason %q does not say Unknown CA", r)
	}
}

// TestManagerTimeout: a manager that accepts connections and never
// answers gives the reason "operation timed out" and a pending
// registration.
func TestManagerTimeout(t *testing.T) {
	m := newManager(t, "onprem")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never answered
			mu.Unlock()
		}
	}()
	d := newDevice(t, filepath.Join(m.data, "ca.crt"), m.url())
	d.ok("xconfiguration License Smart Transport Mode: OnPrem")
	d.ok(fmt.Sprintf(`xconfiguration License Smart Transport URL: "https://127.0.0.1:%d/SmartTransport"`, ln.Addr().(*net.TCPAddr).Port))
	d.fails(`xcommand License Smart Register Token: "some-token-value"`, "operation timed out")
	if got := d.status("Registration Status"); got != "Unregistered: Registration Pending" {
		t.Errorf("registration %q", got)
	}
	if !d.alarm(30042) {
		t.Error("alarm 30042 not raised")
	}
}
