package webui

import "crypto/tls"

// FIPS 140 mode: the HTTPS server runs inside init, whose process is not
// started with Go's FIPS 140-3 module enforced (init reads the setting
// from data after it has started), so the server is held to approved
// algorithms by its configuration: TLS 1.2 with ECDHE on P-256 or P-384
// and AES-GCM (TLS 1.3's cipher suites cannot be chosen in crypto/tls, and
// one of them is ChaCha20-Poly1305, which is not approved).

// fipsCipherSuites are the approved TLS 1.2 suites for an ECDSA
// certificate (the server's own is ECDSA P-256) and for RSA ones.
var fipsCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}

// tlsConfig is the server's TLS configuration, restricted in FIPS 140
// mode.
func (s *Server) tlsConfig(cert tls.Certificate) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if s.FIPS {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = fipsCipherSuites
		c.CurvePreferences = []tls.CurveID{tls.CurveP256, tls.CurveP384}
	}
	return c
}
