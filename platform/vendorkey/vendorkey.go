// Package vendorkey is the demo vendor key that signs option keys, for
// tests and demonstrations. The device verifies keys with the public half
// built into package platform; no device program imports this package, and
// a production build would hold the private half elsewhere.
package vendorkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"vxway/platform"
)

// demoSeed is the Ed25519 seed whose public key platform.VendorPublicKey
// returns.
const demoSeed = "aed5054d47bdc54ee670d4b8c6ab9a3c2d281feb6826173f463980f2cccf8131"

// PrivateKey returns the demo vendor signing key.
func PrivateKey() ed25519.PrivateKey {
	seed, err := hex.DecodeString(demoSeed)
	if err != nil {
		panic("vendorkey: demo seed is malformed")
	}
	return ed25519.NewKeyFromSeed(seed)
}

// Sign issues a new option key for a device serial: option is a name from
// platform.Options, count the quantity of a counted option (0 otherwise).
func Sign(serial, option string, count int) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	return platform.SignOptionKey(PrivateKey(), platform.OptionKey{
		Serial: serial, Option: option, Count: count, Nonce: binary.BigEndian.Uint32(b[:]),
	})
}
