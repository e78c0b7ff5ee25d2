package vmtest

import (
	"fmt"
	"net"
	"testing"

	"vxway/vm"
)

// SIPPort forwards host 127.0.0.1:p (UDP and TCP) to the guest's SIP
// 5060 and p+1 to its SIP over TLS 5061.
func SIPPort(p int) Option { return func(o *vm.Options) { o.SIPPort = p } }

// FreeSIPPort finds a host port p with UDP p, TCP p and TCP p+1 free.
func FreeSIPPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		ok := p < 65535
		for _, port := range []int{p, p + 1} {
			if !ok {
				break
			}
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		u.Close()
		if ok {
			return p
		}
	}
	t.Fatal("no free host port for SIP")
	return 0
}
