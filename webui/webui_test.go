package webui

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
	"vxway/servercert"
)

// startServer serves HTTPS with a new certificate for vx1 on loopback and
// returns its address and a client that trusts the certificate.
func startServer(t *testing.T, srv *Server) (string, *tls.Config) {
	t.Helper()
	root := t.TempDir()
	cert, _, err := servercert.LoadOrMakeCert(root, "vx1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go srv.Serve(l, cert)
	pemCert, err := os.ReadFile(filepath.Join(root, servercert.CertPath))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	return l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "vx1"}
}

// TestIdleConnectionClosed keeps a connection open after one request and
// checks that the server closes it after the idle timeout instead of
// holding it (and a file descriptor of init) for ever.
func TestIdleConnectionClosed(t *testing.T) {
	srv := New(Options{Root: t.TempDir(), Licensing: newFakeLicensing()})
	srv.Limits = Limits{IdleTimeout: 200 * time.Millisecond, ReadHeaderTimeout: 200 * time.Millisecond}
	addr, tlsConfig := startServer(t, srv)

	t.Run("after a request", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, tlsConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: vx1\r\n\r\n")
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			t.Fatal("the server closed after one request; the test needs keep-alive")
		}
		expectClosed(t, c, r)
	})
	t.Run("before the handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		expectClosed(t, c, bufio.NewReader(c))
	})
}

// expectClosed waits up to 10 s for the server to close c.
func expectClosed(t *testing.T, c net.Conn, r io.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server held an idle connection for 10s")
	}
}

// TestConnectionLimit opens as many connections as the limit allows and
// checks that one more is closed at once, and that a slot comes back when
// a connection ends.
func TestConnectionLimit(t *testing.T) {
	srv := New(Options{Root: t.TempDir(), Licensing: newFakeLicensing()})
	srv.Limits = Limits{MaxConns: 2}
	addr, tlsConfig := startServer(t, srv)
	var held []*tls.Conn
	for range 2 {
		c, err := tls.Dial("tcp", addr, tlsConfig)
		if err != nil {
			t.Fatalf("connection within the limit: %v", err)
		}
		defer c.Close()
		held = append(held, c)
	}
	if c, err := tls.Dial("tcp", addr, tlsConfig); err == nil {
		c.Close()
		t.Fatal("a third connection was served over the limit of 2")
	}
	held[0].Close()
	var err error
	for range 100 { // the server sees the close a moment later
		var c *tls.Conn
		if c, err = tls.Dial("tcp", addr, tlsConfig); err == nil {
			c.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the slot of a closed connection did not come back: %v", err)
	}
}
