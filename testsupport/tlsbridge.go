package testsupport

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
)

// TLSBridge listens on a loopback TCP port and carries each connection
// to target over TLS (the server certificate is not checked), until the
// test ends. Debian's SIPp is built without OpenSSL: its TCP legs go
// through this bridge to reach a SIP server's TLS port. It returns the
// bridge's address.
func TLSBridge(t testing.TB, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s, err := tls.Dial("tcp", target, &tls.Config{InsecureSkipVerify: true})
				if err != nil {
					t.Logf("TLS bridge: %v", err)
					return
				}
				defer s.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(s, c); done <- struct{}{} }()
				go func() { io.Copy(c, s); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return l.Addr().String()
}
