package reservation

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RequestCode is what the device prints for `xcommand License Smart
// Reservation Request` and the administrator enters on the manager, e.g.
//
//	CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A<45 characters>-<2 check characters>
//
// It names the device (UDI and host id) and carries the product key: the
// public half of a P-256 key pair the device made for this request. Only
// the device holds the private half, and codes that must come from the
// device (confirmation and return codes) are keyed by an ECDH agreement
// between it and the manager's key, so nobody else can make them.
type RequestCode struct {
	UDI        UDI
	HostID     string   // 8 lower-case hex digits, e.g. 320aa69d
	ProductKey [33]byte // compressed P-256 point
}

const (
	requestPrefix   = "CB-"
	maxRequestBytes = 256
	productKeyLen   = 33
)

// String formats rc with its check characters.
func (rc RequestCode) String() string {
	body := requestPrefix + "P" + rc.UDI.PID + ",S" + rc.UDI.SN + ",V" + rc.UDI.VID + ",H" + rc.HostID +
		"-A" + encode58(rc.ProductKey[:])
	return body + "-" + checkChars(body)
}

// MarshalText formats rc, so that it is stored as its code.
func (rc RequestCode) MarshalText() ([]byte, error) { return []byte(rc.String()), nil }

// UnmarshalText parses a request code.
func (rc *RequestCode) UnmarshalText(b []byte) error {
	p, err := ParseRequestCode(string(b))
	if err != nil {
		return err
	}
	*rc = p
	return nil
}

// ParseRequestCode reads a request code. Surrounding white space is
// ignored. Errors name the field that is wrong; a code whose fields look
// right but whose check characters do not match wraps ErrMistyped.
func ParseRequestCode(s string) (RequestCode, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return RequestCode{}, fmt.Errorf("%w: request code is empty", ErrMalformed)
	}
	if len(s) > maxRequestBytes {
		return RequestCode{}, fmt.Errorf("%w: request code is %d bytes, the limit is %d", ErrOversized, len(s), maxRequestBytes)
	}
	if !strings.HasPrefix(s, requestPrefix) {
		return RequestCode{}, fmt.Errorf("%w: request code must start with %q", ErrMalformed, requestPrefix)
	}
	parts := strings.Split(s[len(requestPrefix):], "-")
	if len(parts) != 3 {
		return RequestCode{}, fmt.Errorf("%w: request code has %d dash-separated parts after %q, want 3 (identity, product key, check characters)", ErrMalformed, len(parts), requestPrefix)
	}
	var rc RequestCode
	fields := strings.Split(parts[0], ",")
	if len(fields) != 4 {
		return RequestCode{}, fmt.Errorf("%w: request code identity %q has %d comma-separated fields, want 4 (P, S, V, H)", ErrMalformed, parts[0], len(fields))
	}
	for i, tag := range []string{"P", "S", "V", "H"} {
		if !strings.HasPrefix(fields[i], tag) {
			return RequestCode{}, fmt.Errorf("%w: request code field %d must start with %q, got %q", ErrMalformed, i+1, tag, fields[i])
		}
	}
	rc.UDI = UDI{PID: fields[0][1:], SN: fields[1][1:], VID: fields[2][1:]}
	if err := rc.UDI.Validate(); err != nil {
		return RequestCode{}, fmt.Errorf("request code: %w", err)
	}
	rc.HostID = fields[3][1:]
	if err := checkHostID(rc.HostID); err != nil {
		return RequestCode{}, fmt.Errorf("request code: %w", err)
	}
	if !strings.HasPrefix(parts[1], "A") {
		return RequestCode{}, fmt.Errorf("%w: request code product key must start with \"A\"", ErrMalformed)
	}
	key, err := decode58(parts[1][1:], productKeyLen, "request code product key")
	if err != nil {
		return RequestCode{}, err
	}
	if len(parts[2]) != 2 {
		return RequestCode{}, fmt.Errorf("%w: request code check characters %q: want 2 characters", ErrMalformed, parts[2])
	}
	body := s[:len(s)-3]
	if checkChars(body) != parts[2] {
		return RequestCode{}, fmt.Errorf("request code: %w; copy it again from the device", ErrMistyped)
	}
	copy(rc.ProductKey[:], key)
	if _, err := rc.publicKey(); err != nil {
		return RequestCode{}, err
	}
	return rc, nil
}

func checkHostID(h string) error {
	if len(h) != 8 {
		return fmt.Errorf("%w: host id %q must be 8 lower-case hex digits", ErrMalformed, h)
	}
	for i := 0; i < len(h); i++ {
		if !isLowerHex(h[i]) {
			return fmt.Errorf("%w: host id %q must be 8 lower-case hex digits", ErrMalformed, h)
		}
	}
	return nil
}

// publicKey decodes the product key.
func (rc RequestCode) publicKey() (*ecdh.PublicKey, error) {
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), rc.ProductKey[:])
	if x == nil {
		return nil, fmt.Errorf("%w: request code product key is not a P-256 point", ErrMalformed)
	}
	raw := make([]byte, 65)
	raw[0] = 4
	x.FillBytes(raw[1:33])
	y.FillBytes(raw[33:])
	k, err := ecdh.P256().NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: request code product key: %v", ErrMalformed, err)
	}
	return k, nil
}

// Digest is the SHA-256 hash that binds codes to this request.
func (rc RequestCode) Digest() [32]byte {
	return sha256.Sum256([]byte("vxway reservation request\x00" + rc.String()))
}

// PIID is the product instance id the manager gives the device for this
// request: a UUID (version 8) made from the request's digest, so that
// both sides compute it and an SLR code names its request with it.
func (rc RequestCode) PIID() string {
	d := rc.Digest()
	d[6] = 0x80 | d[6]&0x0f
	d[8] = 0x80 | d[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", d[0:4], d[4:6], d[6:8], d[8:10], d[10:16])
}

// Request is the device's side of a request: the code it printed and the
// private key behind its product key. The key is secret: the agent keeps
// it in its state directory and never shows it.
type Request struct {
	Code RequestCode `json:"code"`
	Key  []byte      `json:"key"` // P-256 private scalar, 32 bytes
}

// NewRequest makes a request for the device udi with host id hostID,
// drawing a new product key from rand (crypto/rand.Reader in production).
func NewRequest(udi UDI, hostID string, rand io.Reader) (*Request, error) {
	if err := udi.Validate(); err != nil {
		return nil, fmt.Errorf("device identity: %w", err)
	}
	if err := checkHostID(hostID); err != nil {
		return nil, fmt.Errorf("device identity: %w", err)
	}
	for range 64 {
		scalar := make([]byte, 32)
		if _, err := io.ReadFull(rand, scalar); err != nil {
			return nil, fmt.Errorf("making the product key: %w", err)
		}
		k, err := ecdh.P256().NewPrivateKey(scalar)
		if err != nil {
			continue // out of range: draw again
		}
		r := &Request{Code: RequestCode{UDI: udi, HostID: hostID}, Key: scalar}
		r.Code.ProductKey = compress(k.PublicKey())
		return r, nil
	}
	return nil, errors.New("making the product key: the random source gave no valid P-256 scalar")
}

func (r *Request) privateKey() (*ecdh.PrivateKey, error) {
	k, err := ecdh.P256().NewPrivateKey(r.Key)
	if err != nil {
		return nil, fmt.Errorf("request key: %w", err)
	}
	if compress(k.PublicKey()) != r.Code.ProductKey {
		return nil, errors.New("request key does not match the request code's product key")
	}
	return k, nil
}

func compress(pub *ecdh.PublicKey) [33]byte {
	raw := pub.Bytes() // 04 || X || Y
	var out [33]byte
	out[0] = 2 | raw[64]&1
	copy(out[1:], raw[1:33])
	return out
}
