package sipsvc

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// nonceLife is how long a challenge's nonce is accepted.
const nonceLife = 5 * time.Minute

// Digest errors.
var (
	errStale       = errors.New("the nonce is stale")
	errBadNonce    = errors.New("the nonce was not issued here")
	errBadResponse = errors.New("wrong digest response")
)

// nonces makes and checks stateless nonces: the issue time and an HMAC of
// it with a key made at start, so no state grows with challenges.
type nonces struct{ key []byte }

func (n nonces) make(now time.Time) string {
	b := make([]byte, 8, 24)
	binary.BigEndian.PutUint64(b, uint64(now.UnixNano()))
	m := hmac.New(sha256.New, n.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:24])
}

func (n nonces) check(nonce string, now time.Time) error {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return errBadNonce
	}
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil)[:16], b[8:]) {
		return errBadNonce
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	if now.Sub(at) > nonceLife || at.Sub(now) > time.Minute {
		return errStale
	}
	return nil
}

// challenge is the WWW-Authenticate value for realm.
func challenge(realm, nonce string, stale bool) string {
	c := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return c.String()
}

// verify checks a digest response against the stored HA1 (hex) of the
// credential's algorithm, RFC 2617 / RFC 8760, for method.
func verify(c *digest.Credentials, method, ha1 string) error {
	var h hash.Hash
	switch strings.ToUpper(c.Algorithm) {
	case "", "MD5":
		h = md5.New()
	case "SHA-256":
		h = sha256.New()
	default:
		return fmt.Errorf("digest algorithm %q is not supported; use MD5 or SHA-256", c.Algorithm)
	}
	sum := func(parts ...string) string {
		h.Reset()
		h.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(h.Sum(nil))
	}
	ha2 := sum(method, c.URI)
	var want string
	switch c.QOP {
	case "":
		want = sum(ha1, c.Nonce, ha2)
	case "auth":
		want = sum(ha1, c.Nonce, fmt.Sprintf("%08x", c.Nc), c.Cnonce, c.QOP, ha2)
	default:
		return fmt.Errorf("digest qop %q is not supported; use auth", c.QOP)
	}
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(c.Response))) {
		return errBadResponse
	}
	return nil
}
