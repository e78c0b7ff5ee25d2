package reservation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Kind tells the two reservation kinds apart.
type Kind int

// The reservation kinds.
const (
	PLR Kind = 1 // Permanent License Reservation: everything up to the box's capacity
	SLR Kind = 2 // Specific License Reservation: listed licenses with counts and dates
)

// String names the kind: PLR or SLR.
func (k Kind) String() string {
	switch k {
	case PLR:
		return "PLR"
	case SLR:
		return "SLR"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText writes k as PLR or SLR, so that state files read plainly.
func (k Kind) MarshalText() ([]byte, error) {
	if k != PLR && k != SLR {
		return nil, fmt.Errorf("unknown reservation kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads PLR or SLR.
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "PLR":
		*k = PLR
	case "SLR":
		*k = SLR
	default:
		return fmt.Errorf("%w: reservation kind %.20q: want PLR or SLR", ErrMalformed, b)
	}
	return nil
}

// CodeID identifies one authorization code: the SHA-256 hash of all it
// signs (its content, the UDI and the request). Confirmation and return
// codes name the authorization code by it; it does not depend on how the
// code text was laid out.
type CodeID [32]byte

// String formats id as hex.
func (id CodeID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText formats id as hex, for storage.
func (id CodeID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads an id written by MarshalText.
func (id *CodeID) UnmarshalText(b []byte) error {
	v, err := ParseCodeID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseCodeID reads a code id written as 64 hex digits.
func ParseCodeID(s string) (CodeID, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(CodeID{}) {
		return CodeID{}, fmt.Errorf("%w: code id %.80q is not 64 hex digits", ErrMalformed, s)
	}
	return CodeID(b), nil
}

// AuthorizationCode is a parsed, not yet verified, authorization code of
// either kind. Verify checks it against the device.
type AuthorizationCode struct {
	Kind          Kind
	ExportControl bool      // export-controlled functionality allowed
	Issued        time.Time // when the manager made it, to the millisecond; newer codes win

	// SLR only.
	PIID         string        // product instance id, RequestCode.PIID of the request
	UDI          UDI           // the device it is for
	Entitlements []Entitlement // reserved licenses

	// PLR only: short tags of the UDI and request (the code is too
	// compact to carry them whole; the signature covers them whole).
	udiTag, reqTag [4]byte

	body []byte // what the signature covers besides the bindings
	r, s *big.Int
}

// Authorization is an authorization code that verified: signed by a
// trusted manager key for this device and this request.
type Authorization struct {
	Kind          Kind
	ExportControl bool
	Issued        time.Time
	PIID          string
	Entitlements  []Entitlement // SLR only
	ID            CodeID
	// Text is the code in its canonical form: what the device stores to
	// verify again at start, and what the manager hands out.
	Text string

	signer *ecdsa.PublicKey
}

// ParseAuthorizationCode reads either kind of authorization code: an SLR
// code starts with `<` (the XML form), anything else is read as a compact
// PLR code. Surrounding white space is ignored.
func ParseAuthorizationCode(s string) (*AuthorizationCode, error) {
	if len(s) > MaxSLRBytes {
		return nil, fmt.Errorf("%w: authorization code is %d bytes, the limit is %d", ErrOversized, len(s), MaxSLRBytes)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: authorization code is empty", ErrMalformed)
	}
	if s[0] == '<' {
		return parseSLR(s)
	}
	return parsePLR(s)
}

// Verify checks that c was signed by a key of keys for the device udi and
// the request req. It returns ErrOtherUDI, ErrOtherRequest or
// ErrSignature (wrapped) when it was not.
func (c *AuthorizationCode) Verify(keys KeySet, udi UDI, req RequestCode) (*Authorization, error) {
	switch c.Kind {
	case PLR:
		if c.udiTag != udiTag(udi) {
			return nil, fmt.Errorf("%w: this PLR code was made for another device; this device is %s", ErrOtherUDI, udi)
		}
		if d := req.Digest(); !bytes.Equal(c.reqTag[:], d[:4]) {
			return nil, fmt.Errorf("%w: this PLR code was made for another request code than %s", ErrOtherRequest, req)
		}
	case SLR:
		if c.UDI != udi {
			return nil, fmt.Errorf("%w: this SLR code is for %s; this device is %s", ErrOtherUDI, c.UDI, udi)
		}
		if c.PIID != req.PIID() {
			return nil, fmt.Errorf("%w: this SLR code is for product instance %s; the request %s is instance %s", ErrOtherRequest, c.PIID, req, req.PIID())
		}
	default:
		return nil, fmt.Errorf("%w: unknown code kind", ErrMalformed)
	}
	msg := signedMessage(c.Kind, c.body, udi, req)
	signer, err := keys.verify(msg, c.r, c.s)
	if err != nil {
		return nil, fmt.Errorf("%s code: %w", c.Kind, err)
	}
	a := &Authorization{
		Kind:          c.Kind,
		ExportControl: c.ExportControl,
		Issued:        c.Issued,
		PIID:          req.PIID(),
		Entitlements:  append([]Entitlement(nil), c.Entitlements...),
		ID:            sha256.Sum256(msg),
		Text:          c.text(),
		signer:        signer,
	}
	return a, nil
}

// text formats c in its canonical form.
func (c *AuthorizationCode) text() string {
	if c.Kind == PLR {
		return formatPLR(c.body, c.r, c.s)
	}
	return formatSLR(c.body, c.r, c.s, c.UDI)
}

// signedMessage is what the manager signs: a domain label, the kind, the
// code's own content, and the whole UDI and request the code is bound to.
func signedMessage(k Kind, body []byte, udi UDI, req RequestCode) []byte {
	u := sha256.Sum256([]byte(udi.String()))
	d := req.Digest()
	var b bytes.Buffer
	b.WriteString("vxway reservation authorization v1\x00")
	b.WriteByte(byte(k))
	binary.Write(&b, binary.BigEndian, uint32(len(body)))
	b.Write(body)
	b.Write(u[:])
	b.Write(d[:])
	return b.Bytes()
}

func udiTag(u UDI) [4]byte {
	h := sha256.Sum256([]byte(u.String()))
	return [4]byte(h[:4])
}

// maxTimestamp bounds code timestamps to the 48 bits the PLR code holds.
const maxTimestamp = 1<<48 - 1

func checkIssued(t time.Time) error {
	ms := t.UnixMilli()
	if ms <= 0 || ms > maxTimestamp {
		return fmt.Errorf("issue time %s is out of range", t)
	}
	return nil
}

// IssuePLR makes a PLR authorization code for the request req, allowing
// export-controlled functionality or not, stamped with the manager's
// time issued (which must grow from one code to the next of a request).
func (s *Signer) IssuePLR(req RequestCode, exportControl bool, issued time.Time) (*Authorization, error) {
	if err := checkIssued(issued); err != nil {
		return nil, err
	}
	body := make([]byte, plrBodyLen)
	body[0] = plrVersion
	if exportControl {
		body[1] = flagExportControl
	}
	putUint48(body[2:8], uint64(issued.UnixMilli()))
	t := udiTag(req.UDI)
	copy(body[8:12], t[:])
	d := req.Digest()
	copy(body[12:16], d[:4])
	return s.issue(PLR, body, req, func(r, sv *big.Int) string { return formatPLR(body, r, sv) })
}

// IssueSLR makes an SLR authorization code reserving ents for the
// request req. The entitlements must be valid (see Entitlement.Validate)
// and name each tag once.
func (s *Signer) IssueSLR(req RequestCode, exportControl bool, issued time.Time, ents []Entitlement) (*Authorization, error) {
	if err := checkIssued(issued); err != nil {
		return nil, err
	}
	c := &AuthorizationCode{Kind: SLR, ExportControl: exportControl, Issued: time.UnixMilli(issued.UnixMilli()).UTC(), PIID: req.PIID(), UDI: req.UDI, Entitlements: ents}
	if err := checkEntitlements(ents); err != nil {
		return nil, err
	}
	body := canonicalSLR(c)
	return s.issue(SLR, body, req, func(r, sv *big.Int) string { return formatSLR(body, r, sv, req.UDI) })
}

func (s *Signer) issue(k Kind, body []byte, req RequestCode, format func(r, s *big.Int) string) (*Authorization, error) {
	msg := signedMessage(k, body, req.UDI, req)
	r, sv, err := s.sign(msg)
	if err != nil {
		return nil, err
	}
	text := format(r, sv)
	// Read the code back the way a device will: what is handed out is
	// exactly what verifies.
	c, err := ParseAuthorizationCode(text)
	if err != nil {
		return nil, fmt.Errorf("reading back the issued code: %w", err)
	}
	ks, err := NewKeySet(s.Public())
	if err != nil {
		return nil, err
	}
	return c.Verify(ks, req.UDI, req)
}

// PLR compact form.
const (
	plrPrefix         = "CA"
	plrVersion        = 1
	plrBodyLen        = 16
	plrLen            = plrBodyLen + 64
	flagExportControl = 1
)

func formatPLR(body []byte, r, s *big.Int) string {
	raw := make([]byte, 0, plrLen)
	raw = append(raw, body...)
	raw = append(raw, r.FillBytes(make([]byte, 32))...)
	raw = append(raw, s.FillBytes(make([]byte, 32))...)
	t := plrPrefix + encode58(raw)
	return group(t + checkChars(t))
}

func parsePLR(s string) (*AuthorizationCode, error) {
	t := ungroup(s)
	want := len(plrPrefix) + width58(plrLen) + 2
	if !strings.HasPrefix(t, plrPrefix) {
		return nil, fmt.Errorf("%w: a PLR authorization code starts with %q and an SLR code with <specificPLR>", ErrMalformed, plrPrefix)
	}
	if len(t) != want {
		return nil, fmt.Errorf("%w: PLR code has %d characters (without dashes), want %d; copy the whole code", ErrMalformed, len(t), want)
	}
	body, check := t[:len(t)-2], t[len(t)-2:]
	raw, err := decode58(body[len(plrPrefix):], plrLen, "PLR code")
	if err != nil {
		return nil, err
	}
	if checkChars(body) != check {
		return nil, fmt.Errorf("PLR code: %w; copy it again from the manager", ErrMistyped)
	}
	if raw[0] != plrVersion {
		return nil, fmt.Errorf("%w: PLR code version %d is not supported", ErrMalformed, raw[0])
	}
	if raw[1]&^flagExportControl != 0 {
		return nil, fmt.Errorf("%w: PLR code has unknown flags %#x", ErrMalformed, raw[1])
	}
	ms := getUint48(raw[2:8])
	if ms == 0 {
		return nil, fmt.Errorf("%w: PLR code has no issue time", ErrMalformed)
	}
	c := &AuthorizationCode{
		Kind:          PLR,
		ExportControl: raw[1]&flagExportControl != 0,
		Issued:        time.UnixMilli(int64(ms)).UTC(),
		udiTag:        [4]byte(raw[8:12]),
		reqTag:        [4]byte(raw[12:16]),
		body:          raw[:plrBodyLen],
		r:             new(big.Int).SetBytes(raw[16:48]),
		s:             new(big.Int).SetBytes(raw[48:80]),
	}
	return c, nil
}

func putUint48(b []byte, v uint64) {
	for i := 5; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func getUint48(b []byte) uint64 {
	var v uint64
	for _, c := range b[:6] {
		v = v<<8 | uint64(c)
	}
	return v
}
