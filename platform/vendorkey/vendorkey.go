// Package vendorkey is the vendor's side of option keys: an Ed25519
// signing key, its PEM files, and issuing keys for a device serial. The
// repository holds no private key: tests make their own with Generate, and
// `vxway option-key keygen` makes one for a lab. The device trusts the
// public halves its image was built with (appliance.toml [option_keys]);
// no device program links this package.
package vendorkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"vxway/platform"
)

// Key is a vendor signing key.
type Key struct {
	priv ed25519.PrivateKey
}

// Generate makes a new random signing key.
func Generate() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("making an Ed25519 key: %w", err)
	}
	return Key{priv: priv}, nil
}

// Public returns the verification key.
func (k Key) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PublicHex returns the verification key in hex, as image.json lists it.
func (k Key) PublicHex() string { return hex.EncodeToString(k.Public()) }

// Sign issues a new option key for a device serial: option is a name from
// platform.Options, count the quantity of a counted option (0 otherwise).
func (k Key) Sign(serial, option string, count int) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	return platform.SignOptionKey(k.priv, platform.OptionKey{
		Serial: serial, Option: option, Count: count, Nonce: binary.BigEndian.Uint32(b[:]),
	})
}

// Private returns the signing key itself.
func (k Key) Private() ed25519.PrivateKey { return k.priv }

// MarshalPrivatePEM encodes the key as a PKCS #8 "PRIVATE KEY" PEM block,
// as `openssl genpkey -algorithm ed25519` writes it.
func (k Key) MarshalPrivatePEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicPEM encodes the verification key as a PKIX "PUBLIC KEY" PEM
// block, as `openssl pkey -pubout` writes it.
func (k Key) MarshalPublicPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ErrNotEd25519 marks a PEM file that holds no Ed25519 key of the kind asked.
var ErrNotEd25519 = errors.New("not an Ed25519 key")

// ParsePrivatePEM reads a PKCS #8 Ed25519 private key.
func ParsePrivatePEM(b []byte) (Key, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return Key{}, fmt.Errorf("%w: the file holds no PEM \"PRIVATE KEY\" block", ErrNotEd25519)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrNotEd25519, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("%w: the key is a %T", ErrNotEd25519, k)
	}
	return Key{priv: priv}, nil
}

// ParsePublicPEM reads a PKIX Ed25519 public key.
func ParsePublicPEM(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: the file holds no PEM \"PUBLIC KEY\" block", ErrNotEd25519)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotEd25519, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the key is a %T", ErrNotEd25519, k)
	}
	return pub, nil
}
