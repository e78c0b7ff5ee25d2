package reservation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// KeySet is the set of manager public keys the device trusts to sign
// authorization codes. On the device it comes from the manager CA
// certificates baked into the image.
type KeySet struct {
	keys []*ecdsa.PublicKey
}

// NewKeySet makes a key set of P-256 public keys.
func NewKeySet(keys ...*ecdsa.PublicKey) (KeySet, error) {
	for i, k := range keys {
		if k == nil || k.Curve != elliptic.P256() {
			return KeySet{}, fmt.Errorf("manager key %d is not a P-256 key", i+1)
		}
	}
	return KeySet{keys: append([]*ecdsa.PublicKey(nil), keys...)}, nil
}

// ParseKeySetPEM reads the P-256 keys of PEM blocks (CERTIFICATE or
// PUBLIC KEY). Keys of other algorithms (an RSA CA in the same trust
// store) are skipped; blocks of other types are an error, and so is
// finding no P-256 key at all, so that a wrong file is noticed.
func ParseKeySetPEM(data ...[]byte) (KeySet, error) {
	var keys []*ecdsa.PublicKey
	for _, d := range data {
		for {
			var b *pem.Block
			b, d = pem.Decode(d)
			if b == nil {
				break
			}
			var pub any
			switch b.Type {
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return KeySet{}, fmt.Errorf("reading manager certificate: %w", err)
				}
				pub = c.PublicKey
			case "PUBLIC KEY":
				k, err := x509.ParsePKIXPublicKey(b.Bytes)
				if err != nil {
					return KeySet{}, fmt.Errorf("reading manager public key: %w", err)
				}
				pub = k
			default:
				return KeySet{}, fmt.Errorf("PEM block %q: want CERTIFICATE or PUBLIC KEY", b.Type)
			}
			if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P256() {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return KeySet{}, errors.New("no ECDSA P-256 manager key found in the PEM data")
	}
	return NewKeySet(keys...)
}

// Len reports how many keys the set holds.
func (ks KeySet) Len() int { return len(ks.keys) }

// verify reports which key in the set signed msg with the raw signature
// r, s, or ErrSignature.
func (ks KeySet) verify(msg []byte, r, s *big.Int) (*ecdsa.PublicKey, error) {
	if !lowS(s) {
		return nil, fmt.Errorf("%w: the signature is not in its canonical form", ErrSignature)
	}
	h := sha256.Sum256(msg)
	for _, k := range ks.keys {
		if ecdsa.Verify(k, h[:], r, s) {
			return k, nil
		}
	}
	return nil, ErrSignature
}

// Signer is the manager's side: it issues authorization codes with its
// P-256 key and checks the confirmation and return codes devices make
// for them.
type Signer struct {
	key *ecdsa.PrivateKey
}

// NewSigner makes a signer from the manager's P-256 private key.
func NewSigner(key *ecdsa.PrivateKey) (*Signer, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, errors.New("manager reservation key must be an ECDSA P-256 key")
	}
	return &Signer{key: key}, nil
}

// Public reports the signer's public key, the one devices must trust.
func (s *Signer) Public() *ecdsa.PublicKey { return &s.key.PublicKey }

// sign signs msg and returns a low-s signature, so that each signature
// has exactly one valid encoding.
func (s *Signer) sign(msg []byte) (r, sv *big.Int, err error) {
	h := sha256.Sum256(msg)
	r, sv, err = ecdsa.Sign(rand.Reader, s.key, h[:])
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	if !lowS(sv) {
		sv = new(big.Int).Sub(elliptic.P256().Params().N, sv)
	}
	return r, sv, nil
}

func lowS(s *big.Int) bool {
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	return s.Sign() > 0 && s.Cmp(half) <= 0
}

// deviceKey derives the key the device and the manager share for one
// request: HKDF-SHA256 over the ECDH agreement of the request's product
// key with the manager's key, bound to the request's digest.
func deviceKey(shared []byte, req RequestCode) ([]byte, error) {
	d := req.Digest()
	k, err := hkdf.Key(sha256.New, shared, []byte("vxway reservation device key v1"), string(d[:]), 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the device key: %w", err)
	}
	return k, nil
}

// sharedKey is the device's side of deviceKey.
func (r *Request) sharedKey(manager *ecdsa.PublicKey) ([]byte, error) {
	priv, err := r.privateKey()
	if err != nil {
		return nil, err
	}
	mpub, err := manager.ECDH()
	if err != nil {
		return nil, fmt.Errorf("manager key: %w", err)
	}
	shared, err := priv.ECDH(mpub)
	if err != nil {
		return nil, fmt.Errorf("key agreement: %w", err)
	}
	return deviceKey(shared, r.Code)
}

// sharedKey is the manager's side of deviceKey.
func (s *Signer) sharedKey(req RequestCode) ([]byte, error) {
	priv, err := s.key.ECDH()
	if err != nil {
		return nil, fmt.Errorf("manager key: %w", err)
	}
	pub, err := req.publicKey()
	if err != nil {
		return nil, err
	}
	var shared []byte
	shared, err = priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("key agreement: %w", err)
	}
	return deviceKey(shared, req)
}

// mac computes HMAC-SHA256 with key over the parts, each prefixed with
// its length so that no two part lists give the same input.
func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		var l [4]byte
		l[0], l[1], l[2], l[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		m.Write(l[:])
		m.Write(p)
	}
	return m.Sum(nil)
}
