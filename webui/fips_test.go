package webui

import (
	"crypto/tls"
	"testing"
)

// TestFIPSTLS: in FIPS 140 mode the server negotiates TLS 1.2 with
// ECDHE-AES-GCM on a NIST curve, and refuses a client that offers only
// ChaCha20-Poly1305 or only X25519; without it, TLS 1.3 and X25519 work.
func TestFIPSTLS(t *testing.T) {
	fipsSrv := New(Options{Root: t.TempDir()})
	fipsSrv.FIPS = true
	fips, fipsClient := startServer(t, fipsSrv)
	plain, plainClient := startServer(t, New(Options{Root: t.TempDir()}))
	for _, tc := range []struct {
		name   string
		addr   string
		base   *tls.Config
		change func(*tls.Config)
		ok     bool
	}{
		{"fips, default client", fips, fipsClient, func(*tls.Config) {}, true},
		{"fips, ChaCha20 only", fips, fipsClient, func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
		}, false},
		{"fips, X25519 only", fips, fipsClient, func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} }, false},
		{"plain, X25519 only", plain, plainClient, func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.base.Clone()
			tc.change(cfg)
			c, err := tls.Dial("tcp", tc.addr, cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("handshake error %v, want success %v", err, tc.ok)
			}
			if err != nil {
				return
			}
			defer c.Close()
			st := c.ConnectionState()
			if tc.addr == fips {
				if st.Version != tls.VersionTLS12 || (st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 && st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384) {
					t.Errorf("negotiated %s with %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
				}
			}
		})
	}
}
