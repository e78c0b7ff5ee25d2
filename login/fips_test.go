package login

import (
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestFIPSSSH: in FIPS 140 mode the server refuses a client that offers
// only Curve25519, only ChaCha20-Poly1305 or only HMAC-SHA1, and serves
// one with ECDH P-256, AES-GCM and HMAC-SHA-256; without it, Curve25519
// works.
func TestFIPSSSH(t *testing.T) {
	fips, fipsKey, _ := startSSH(t, func(s *SSH) { s.FIPS = true })
	plain, plainKey, _ := startSSH(t)
	for _, tc := range []struct {
		name string
		addr string
		key  ssh.PublicKey
		cfg  ssh.Config
		ok   bool
	}{
		{"fips, approved", fips, fipsKey, ssh.Config{KeyExchanges: []string{ssh.KeyExchangeECDHP256}, Ciphers: []string{ssh.CipherAES128GCM}}, true},
		{"fips, default client", fips, fipsKey, ssh.Config{}, true},
		{"fips, Curve25519 only", fips, fipsKey, ssh.Config{KeyExchanges: []string{ssh.KeyExchangeCurve25519}}, false},
		{"fips, ChaCha20 only", fips, fipsKey, ssh.Config{Ciphers: []string{ssh.CipherChaCha20Poly1305}}, false},
		{"fips, HMAC-SHA1 only", fips, fipsKey, ssh.Config{Ciphers: []string{ssh.CipherAES128CTR}, MACs: []string{ssh.HMACSHA1}}, false},
		{"plain, Curve25519 only", plain, plainKey, ssh.Config{KeyExchanges: []string{ssh.KeyExchangeCurve25519}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ssh.Dial("tcp", tc.addr, &ssh.ClientConfig{
				Config: tc.cfg, User: "admin", Auth: []ssh.AuthMethod{ssh.Password("adminpass1")},
				HostKeyCallback: ssh.FixedHostKey(tc.key), Timeout: 10 * time.Second,
			})
			if (err == nil) != tc.ok {
				t.Fatalf("dial error %v, want success %v", err, tc.ok)
			}
			if err == nil {
				c.Close()
			}
		})
	}
}
