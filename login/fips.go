package login

import "golang.org/x/crypto/ssh"

// FIPS 140 mode: the SSH server runs inside init, which is not started
// with Go's FIPS 140-3 module enforced, so the server offers only
// approved algorithms by its configuration: ECDH on the NIST curves (no
// Curve25519, no ML-KEM hybrid, no finite-field groups), AES-GCM and
// AES-CTR (no ChaCha20-Poly1305), HMAC-SHA-2 (no SHA-1), and user keys
// signed with ECDSA, Ed25519 or RSA with SHA-2. The host key is Ed25519,
// approved by FIPS 186-5.
var (
	fipsKeyExchanges = []string{ssh.KeyExchangeECDHP256, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521}
	fipsCiphers      = []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherAES128CTR, ssh.CipherAES192CTR, ssh.CipherAES256CTR}
	fipsMACs         = []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM, ssh.HMACSHA256, ssh.HMACSHA512}
	fipsUserKeyAlgos = []string{ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512}
)

// restrictFIPS limits cfg to the approved algorithms.
func restrictFIPS(cfg *ssh.ServerConfig) {
	cfg.KeyExchanges = fipsKeyExchanges
	cfg.Ciphers = fipsCiphers
	cfg.MACs = fipsMACs
	cfg.PublicKeyAuthAlgorithms = fipsUserKeyAlgos
}
