package reservation

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Confirmation computes the 8-hex-digit confirmation code the device
// prints after installing a: a MAC of the code's id under the key the
// device shares with the manager for this request. The manager checks
// it with Signer.VerifyConfirmation; nobody without the request's
// private key (or the manager's) can compute it.
func (r *Request) Confirmation(a *Authorization) (string, error) {
	if a.signer == nil {
		return "", errors.New("the authorization code was not verified")
	}
	if a.PIID != r.Code.PIID() {
		return "", fmt.Errorf("%w: the code is for product instance %s, the request is %s", ErrOtherRequest, a.PIID, r.Code.PIID())
	}
	k, err := r.sharedKey(a.signer)
	if err != nil {
		return "", err
	}
	return confirmation(k, a.ID), nil
}

func confirmation(key []byte, id CodeID) string {
	return hex.EncodeToString(mac(key, []byte("confirm"), id[:])[:4])
}

// ParseConfirmation reads a confirmation code: 8 hex digits, any case,
// surrounding white space ignored.
func ParseConfirmation(s string) (string, error) {
	if len(s) > 64 {
		return "", fmt.Errorf("%w: confirmation code is %d bytes; it has 8 hex digits", ErrOversized, len(s))
	}
	c := strings.ToLower(strings.TrimSpace(s))
	if len(c) != 8 {
		return "", fmt.Errorf("%w: confirmation code %q: want 8 hex digits, like 08715c93", ErrMalformed, c)
	}
	if _, err := hex.DecodeString(c); err != nil {
		return "", fmt.Errorf("%w: confirmation code %q: want 8 hex digits, like 08715c93", ErrMalformed, c)
	}
	return c, nil
}

// VerifyConfirmation checks that code is the confirmation code the device
// that made req computes for the authorization code id this signer
// issued. It returns ErrWrongConfirmation (wrapped) when it is not.
//
// The code has only 32 bits: it resists guessing only when each wrong
// try costs something, so the manager must limit tries per product
// instance.
func (s *Signer) VerifyConfirmation(req RequestCode, id CodeID, code string) error {
	c, err := ParseConfirmation(code)
	if err != nil {
		return err
	}
	k, err := s.sharedKey(req)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(confirmation(k, id)), []byte(c)) {
		return fmt.Errorf("%w: %s is not the code the device shows after installing this authorization code; check it and enter it again", ErrWrongConfirmation, c)
	}
	return nil
}
