// Package licproto is the wire protocol between a vxway device (the Smart
// Licensing agent) and the license manager (ssm): message types, the signed
// request and answer envelopes, size limits, error codes, and the helpers
// both sides use to build, sign and check messages.
//
// # Transport
//
// Every exchange is one HTTPS POST of a JSON request body to the transport
// URL, answered by one JSON body:
//
//   - On-Prem: https://FQDN/SmartTransport (path OnPremPath);
//   - Direct (cloud): the URL of the build config's direct_url; the
//     manager's cloud mode serves DirectPath (/licservice/license, the
//     path of the sample build config's direct_url) unless told another.
//
// Requests carry Content-Type application/json. The request body, and the
// answer body, are at most MaxBody bytes (64 KiB); anything larger is refused
// unread. The device trusts only the manager CA certificates baked into its
// image (never the system store), both for TLS and for answer signatures.
//
// # Request
//
// A request is the JSON object Request:
//
//	{"version":1, "type":"authorize", "nonce":"<32 chars base64url>",
//	 "timestamp":<unix milliseconds, device clock>, "seq":<counter>,
//	 "udi":"UDI_PID:...;", "payload":{...},
//	 "signature":"<base64 DER ECDSA P-256>"}
//
// type is one of register, renew_registration, authorize, deregister. nonce
// is 24 random bytes in unpadded base64url (exactly NonceLen characters), new
// for every request. seq is the device's request counter: every request a
// device key signs carries a higher one than the one before (the device
// keeps it next to its key); the manager refuses a counter it has already
// seen from that key, which is what makes a replayed request fail whatever
// its timestamp (see Manager checks). A request without seq (0, left out)
// is a legacy request of earlier device software, judged by its timestamp.
// timestamp is the device's best estimate of the manager's time, for
// diagnostics; with seq the manager does not judge it. udi is the device
// identity, e.g.
// "UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;" (printable ASCII, at
// most MaxUDI bytes). payload is the type's payload object (RegisterPayload,
// RenewRegistrationPayload, AuthorizePayload, DeregisterPayload).
//
// signature is an ECDSA P-256 signature (ASN.1 DER, standard base64) by the
// device's identity key over SHA-256 of the request signing bytes:
//
//	"vxway-licproto-request-v1\n" type "\n" nonce "\n" timestamp "\n" udi "\n"
//	hex(SHA-256(payload bytes exactly as sent))
//
// timestamp is written in decimal. A request with seq is signed over
//
//	"vxway-licproto-request-v2\n" type "\n" nonce "\n" timestamp "\n" seq "\n"
//	udi "\n" hex(SHA-256(payload bytes exactly as sent))
//
// instead (seq in decimal), so a counter cannot be added, removed or
// changed without the device's key. Every request is signed: a register
// request is signed by the key whose public half it carries (proof of
// possession); every later request is signed by the key the manager
// certified at registration or at the last renew_registration.
//
// # Messages
//
//   - register (RegisterPayload: token, PKIX DER public key, hostname and IP
//     unless the device withholds them, reregister flag) answers
//     RegisterResult: the one-year identity certificate (DER), the smart and
//     virtual account names and the token's export-controlled flag. An
//     instance already registered registers again only with its registered
//     key (the request carries the key and is signed by it): with another
//     key it is refused [already_registered], reregister or not, without
//     naming its virtual account. With its key it is refused
//     [already_registered] into another virtual account unless reregister
//     is set, which moves it to the token's; the same key into the same
//     virtual account is a retry.
//   - renew_registration (RenewRegistrationPayload: hostname and IP as they
//     are now, optionally a new public key) answers RegisterResult with a new
//     certificate.
//   - authorize (AuthorizePayload: licenses in use per type, rms, room,
//     desktop) answers AuthorizeResult: per type in use, authorized, or
//     out_of_compliance when the instance's usage exceeds what its virtual
//     account has left.
//   - deregister (empty payload) answers an empty result; the instance's
//     licenses return to the account at once.
//
// # Answer
//
// The manager answers every request that reaches it (also refusals) with
// the JSON object SignedAnswer:
//
//	{"answer":"<base64 of the answer JSON bytes>",
//	 "signature":"<base64 DER ECDSA P-256>",
//	 "chain":["<base64 DER certificate>", ...]}
//
// answer holds the exact bytes of the JSON object Answer: version, the
// request's type, nonce and udi, the manager's timestamp (unix ms), status
// ("ok" or "error"), error {code, message} when status is "error", and the
// type's result payload when "ok". signature is by the manager's answer
// signing key over SHA-256 of "vxway-licproto-answer-v1\n" followed by the
// answer bytes. chain starts with the signing certificate, followed by any
// intermediates; it must chain to a pinned manager CA, and the signing
// certificate must allow digital signatures, must not be a CA and must
// carry the certificate policy AnswerSigningPolicy, which the manager gives
// its answer signing certificate only (not the device identity or TLS
// server certificates the same CA issues).
//
// The device accepts an answer only when the signature and chain check out
// (certificate validity judged at the device's best estimate of the
// manager's time) and its nonce, type and udi equal the request's. The
// nonce is new for every request, so an answer replayed from an earlier
// exchange fails that check whatever its timestamp: the device needs no
// freshness window, and the answer's timestamp is the manager's time, which
// the device adopts (trusted time, see docs/licensing.md). Verify reports
// the skew it measured (manager time minus the device's estimate).
//
// A refusal of a request whose envelope could not be parsed still repeats
// its type, nonce and udi when those are well formed (Binding); otherwise
// they are empty and the device cannot verify it.
//
// HTTP status: 200 for "ok" answers; 4xx/5xx for error answers, which are
// still signed JSON bodies the device should verify and show. A body that is
// not a valid signed answer (a proxy's error page, say) is reported with the
// HTTP status.
//
// # Manager checks
//
// Before acting, the manager refuses, with the code in brackets and without
// changing any state, in this order: a body over MaxBody [too_large];
// malformed JSON, an unknown version or type, a field out of its limits
// [bad_request]; for a legacy request without seq, a timestamp more than
// the window (DefaultWindow, 5 minutes) away from the manager's clock
// [stale_timestamp] and a nonce already seen while its timestamp is fresh
// [replay]; for a register request, a token that is not good
// (unknown_token, token_expired, token_used_up, token_revoked), then a
// signature that does not verify with the key it carries [bad_signature];
// for the other requests, a UDI that is not registered or a signature that
// does not verify with its registered key, answered alike
// [not_registered]. Only then is the request's freshness recorded: a
// request with seq is refused [replay, with last_seq] unless its counter
// is higher than every counter the manager has accepted from its key, and
// the manager records the counter in its database, in the transaction of
// the request's effect, so that every manager sharing the database
// refuses it afterwards (a request's timestamp may then be off by any
// amount: a device whose clock is wrong by months still renews). A legacy
// request's nonce is recorded in the manager's memory; when that replay
// guard holds its limit of fresh nonces the request is refused [busy]
// (HTTP 503, try again later) rather than a fresh nonce forgotten. A
// source address over the manager's rate limit gets HTTP 429 with an
// unsigned body.
//
// # Helpers
//
// Device: NewRequest builds and signs a request; Verifier checks answers
// (pinned CA pool, cached verified chains); Client does both around one
// HTTPS POST. Manager: ParseRequest, DecodePayload and VerifySignature
// check a request; Replay refuses stale timestamps and reused nonces;
// Signer makes signed answers.
//
// # Errors
//
// Error is the typed error on both sides. Its Code survives the wire, and
// errors.Is(err, ErrTokenExpired) (and the other sentinels) matches on the
// code, so the device can show the exact reason a token was refused.
package licproto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Transport paths.
const (
	// OnPremPath is the path of the on-prem manager's agent endpoint.
	OnPremPath = "/SmartTransport"
	// DirectPath is the default path of the cloud (Direct) endpoint, the
	// path of the sample build config's direct_url
	// (https://smartreceiver.vxway.example/licservice/license).
	DirectPath = "/licservice/license"
)

// Version is the protocol version written in every message.
const Version = 1

// Size limits. Every field is checked against its limit when parsed.
const (
	MaxBody        = 64 << 10 // request or answer body, bytes
	MaxPayload     = 16 << 10 // raw payload object, bytes
	NonceLen       = 32       // 24 random bytes, unpadded base64url
	MaxUDI         = 128
	MaxToken       = 512
	MaxHostname    = 253
	MaxIP          = 45
	MaxPublicKey   = 512  // PKIX DER
	MaxSignature   = 80   // DER ECDSA P-256 is at most 72
	MaxCertificate = 4096 // one DER certificate
	MaxChain       = 4
	MaxName        = 128 // account names in answers
	MaxMessage     = 512 // error message
	MaxUsage       = 1_000_000
)

// DefaultWindow is how far the timestamp of a legacy request (one without
// a counter) may be from the manager's clock before it is refused as
// stale.
const DefaultWindow = 5 * time.Minute

// Type is the kind of a request.
type Type string

// Request types.
const (
	TypeRegister          Type = "register"
	TypeRenewRegistration Type = "renew_registration"
	TypeAuthorize         Type = "authorize"
	TypeDeregister        Type = "deregister"
)

// Valid reports whether t is a known request type.
func (t Type) Valid() bool {
	switch t {
	case TypeRegister, TypeRenewRegistration, TypeAuthorize, TypeDeregister:
		return true
	}
	return false
}

// LicenseType is a kind of license counted by the manager.
type LicenseType string

// License types.
const (
	// RMS is Rich Media Session.
	RMS     LicenseType = "rms"
	Room    LicenseType = "room"
	Desktop LicenseType = "desktop"
)

// LicenseTypes lists every license type in display order.
func LicenseTypes() []LicenseType { return []LicenseType{RMS, Room, Desktop} }

// Valid reports whether l is a known license type.
func (l LicenseType) Valid() bool {
	switch l {
	case RMS, Room, Desktop:
		return true
	}
	return false
}

// DisplayName is the product's name for the license type.
func (l LicenseType) DisplayName() string {
	switch l {
	case RMS:
		return "Rich Media Session"
	case Room:
		return "Room Registration"
	case Desktop:
		return "Desktop Registration"
	}
	return string(l)
}

// Request is the envelope of every device request.
type Request struct {
	Version   int    `json:"version"`
	Type      Type   `json:"type"`
	Nonce     string `json:"nonce"`
	Timestamp int64  `json:"timestamp"` // unix milliseconds
	// Seq is the device's request counter, strictly increasing per device
	// key; 0 (left out) in a legacy request.
	Seq       int64           `json:"seq,omitempty"`
	UDI       string          `json:"udi"`
	Payload   json.RawMessage `json:"payload"`
	Signature string          `json:"signature"`
}

// Time reports the request timestamp.
func (r *Request) Time() time.Time { return time.UnixMilli(r.Timestamp) }

// RegisterPayload is the payload of a register request.
type RegisterPayload struct {
	Token string `json:"token"`
	// PublicKey is the device identity public key, PKIX DER.
	PublicKey []byte `json:"public_key"`
	// Hostname and IP are empty when the device withholds them.
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	// Reregister moves an instance already registered (to any virtual
	// account) to the token's virtual account.
	Reregister bool `json:"reregister,omitempty"`
}

// RegisterResult is the result of a register or renew_registration request.
type RegisterResult struct {
	// Certificate is the device identity certificate, DER, valid one year.
	Certificate      []byte `json:"certificate"`
	SmartAccount     string `json:"smart_account"`
	VirtualAccount   string `json:"virtual_account"`
	ExportControlled bool   `json:"export_controlled"`
}

// RenewRegistrationPayload is the payload of a renew_registration request.
// A new hostname or IP is pushed to the manager this way.
type RenewRegistrationPayload struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	// PublicKey, when set, replaces the identity key (PKIX DER); the
	// request is still signed by the current key.
	PublicKey []byte `json:"public_key,omitempty"`
}

// AuthorizePayload is the payload of an authorize request: the licenses in
// use now, per type. Types absent count as zero.
type AuthorizePayload struct {
	Usage map[LicenseType]int `json:"usage"`
}

// LicenseState is the manager's verdict for one license type.
type LicenseState string

// License states.
const (
	StateAuthorized      LicenseState = "authorized"
	StateOutOfCompliance LicenseState = "out_of_compliance"
)

// LicenseResult is the authorization result for one license type in use.
type LicenseResult struct {
	Type  LicenseType  `json:"type"`
	InUse int          `json:"in_use"`
	State LicenseState `json:"state"`
}

// AuthorizeResult is the result of an authorize request. Licenses lists
// the types in use (count > 0) in LicenseTypes order; State is
// out_of_compliance when any of them is, authorized otherwise.
type AuthorizeResult struct {
	State    LicenseState    `json:"state"`
	Licenses []LicenseResult `json:"licenses"`
}

// DeregisterPayload is the (empty) payload of a deregister request.
type DeregisterPayload struct{}

// DeregisterResult is the (empty) result of a deregister request.
type DeregisterResult struct{}

// Status of an answer.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Answer is the signed content of every manager answer.
type Answer struct {
	Version   int             `json:"version"`
	Type      Type            `json:"type"`
	Nonce     string          `json:"nonce"`
	UDI       string          `json:"udi"`
	Timestamp int64           `json:"timestamp"` // unix milliseconds, manager clock
	Status    string          `json:"status"`
	Error     *Error          `json:"error,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// Time reports the answer timestamp.
func (a *Answer) Time() time.Time { return time.UnixMilli(a.Timestamp) }

// Err returns the answer's error, or nil when its status is ok.
func (a *Answer) Err() error {
	if a.Status == StatusOK {
		return nil
	}
	if a.Error == nil {
		return &Error{Code: CodeInternal, Message: "manager answered with an error but gave no reason"}
	}
	return a.Error
}

// SignedAnswer is the answer body on the wire.
type SignedAnswer struct {
	Answer    []byte   `json:"answer"`
	Signature []byte   `json:"signature"`
	Chain     [][]byte `json:"chain"`
}

const (
	requestDomain    = "vxway-licproto-request-v1\n"
	requestSeqDomain = "vxway-licproto-request-v2\n"
	answerDomain     = "vxway-licproto-answer-v1\n"
)

// SigningDigest returns the SHA-256 digest the request signature covers.
func (r *Request) SigningDigest() []byte {
	ph := sha256.Sum256(r.Payload)
	h := sha256.New()
	if r.Seq == 0 {
		io.WriteString(h, requestDomain)
	} else {
		io.WriteString(h, requestSeqDomain)
	}
	io.WriteString(h, string(r.Type))
	io.WriteString(h, "\n")
	io.WriteString(h, r.Nonce)
	io.WriteString(h, "\n")
	io.WriteString(h, strconv.FormatInt(r.Timestamp, 10))
	io.WriteString(h, "\n")
	if r.Seq != 0 {
		io.WriteString(h, strconv.FormatInt(r.Seq, 10))
		io.WriteString(h, "\n")
	}
	io.WriteString(h, r.UDI)
	io.WriteString(h, "\n")
	io.WriteString(h, hex.EncodeToString(ph[:]))
	return h.Sum(nil)
}

func answerDigest(answer []byte) []byte {
	h := sha256.New()
	io.WriteString(h, answerDomain)
	h.Write(answer)
	return h.Sum(nil)
}

// NewNonce returns a fresh random nonce of NonceLen characters.
func NewNonce(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [24]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// NewRequest builds a legacy request (without a counter) of type t from
// udi and payload, stamped with now and a fresh nonce, and signs it with
// key. Devices use NewRequestSeq.
func NewRequest(t Type, udi string, payload any, now time.Time, key *ecdsa.PrivateKey) (*Request, error) {
	return NewRequestSeq(t, udi, 0, payload, now, key)
}

// NewRequestSeq builds a request of type t from udi and payload with the
// request counter seq (greater than every counter key signed before),
// stamped with now and a fresh nonce, and signs it with key.
func NewRequestSeq(t Type, udi string, seq int64, payload any, now time.Time, key *ecdsa.PrivateKey) (*Request, error) {
	if seq < 0 {
		return nil, fmt.Errorf("building request: negative request counter %d", seq)
	}
	if !t.Valid() {
		return nil, fmt.Errorf("building request: unknown type %q", t)
	}
	if err := checkUDI(udi); err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding %s payload: %w", t, err)
	}
	if len(p) > MaxPayload {
		return nil, fmt.Errorf("building request: %s payload is %d bytes, more than %d", t, len(p), MaxPayload)
	}
	nonce, err := NewNonce(nil)
	if err != nil {
		return nil, err
	}
	r := &Request{Version: Version, Type: t, Nonce: nonce, Timestamp: now.UnixMilli(), Seq: seq, UDI: udi, Payload: p}
	if err := r.Sign(key); err != nil {
		return nil, err
	}
	return r, nil
}

// Sign signs the request with key.
func (r *Request) Sign(key *ecdsa.PrivateKey) error {
	if key == nil {
		return fmt.Errorf("signing %s request: no identity key", r.Type)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, r.SigningDigest())
	if err != nil {
		return fmt.Errorf("signing %s request: %w", r.Type, err)
	}
	r.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Marshal encodes the request as a wire body.
func (r *Request) Marshal() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding %s request: %w", r.Type, err)
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("encoding %s request: %d bytes, more than %d", r.Type, len(b), MaxBody)
	}
	return b, nil
}

// ParseRequest decodes and checks a request body: sizes, version, type,
// nonce, UDI and signature encoding. It does not check the signature itself
// (VerifySignature), the payload's content (DecodePayload) or freshness
// (Replay.Check for a legacy request). Errors are *Error with code too_large or bad_request.
func ParseRequest(body []byte) (*Request, error) {
	if len(body) > MaxBody {
		return nil, errorf(CodeTooLarge, "request is %d bytes, more than the limit of %d", len(body), MaxBody)
	}
	var r Request
	if err := decodeStrict(body, &r); err != nil {
		return nil, errorf(CodeBadRequest, "request is not valid JSON for this protocol: %v", err)
	}
	if r.Version != Version {
		return nil, errorf(CodeBadRequest, "request version %d is not supported (want %d)", r.Version, Version)
	}
	if !r.Type.Valid() {
		return nil, errorf(CodeBadRequest, "request type %.40q is not one of register, renew_registration, authorize, deregister", r.Type)
	}
	if err := checkNonce(r.Nonce); err != nil {
		return nil, errorf(CodeBadRequest, "%v", err)
	}
	if r.Timestamp <= 0 {
		return nil, errorf(CodeBadRequest, "request timestamp is missing")
	}
	if r.Seq < 0 {
		return nil, errorf(CodeBadRequest, "request counter seq is negative")
	}
	if err := checkUDI(r.UDI); err != nil {
		return nil, errorf(CodeBadRequest, "%v", err)
	}
	if len(r.Payload) == 0 || r.Payload[0] != '{' {
		return nil, errorf(CodeBadRequest, "request payload must be a JSON object")
	}
	if len(r.Payload) > MaxPayload {
		return nil, errorf(CodeTooLarge, "request payload is %d bytes, more than the limit of %d", len(r.Payload), MaxPayload)
	}
	if r.Signature == "" {
		return nil, errorf(CodeBadSignature, "request is not signed")
	}
	if len(r.Signature) > base64.StdEncoding.EncodedLen(MaxSignature) {
		return nil, errorf(CodeBadRequest, "request signature is longer than %d bytes", MaxSignature)
	}
	if _, err := base64.StdEncoding.DecodeString(r.Signature); err != nil {
		return nil, errorf(CodeBadRequest, "request signature is not base64: %v", err)
	}
	return &r, nil
}

// Binding returns the type, nonce and UDI of a request body that
// ParseRequest refused, when they are well formed, so that the refusal can
// still be bound to the request and verified by the device. It returns nil
// when they are not.
func Binding(body []byte) *Request {
	if len(body) > MaxBody {
		return nil
	}
	var b struct {
		Type  Type   `json:"type"`
		Nonce string `json:"nonce"`
		UDI   string `json:"udi"`
	}
	if json.Unmarshal(body, &b) != nil || !b.Type.Valid() || checkNonce(b.Nonce) != nil || checkUDI(b.UDI) != nil {
		return nil
	}
	return &Request{Version: Version, Type: b.Type, Nonce: b.Nonce, UDI: b.UDI}
}

// VerifySignature checks the request signature against pub. The error is
// an *Error with code bad_signature.
func (r *Request) VerifySignature(pub *ecdsa.PublicKey) error {
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || len(sig) > MaxSignature {
		return errorf(CodeBadSignature, "request signature is not valid base64 DER")
	}
	if pub == nil || !ecdsa.VerifyASN1(pub, r.SigningDigest(), sig) {
		return errorf(CodeBadSignature, "request signature does not verify with the key registered for %s", r.UDI)
	}
	return nil
}

// DecodePayload decodes the request payload into v (a pointer to the
// type's payload struct) and checks its fields. Errors are *Error with code
// bad_request.
func (r *Request) DecodePayload(v any) error {
	if err := decodeStrict(r.Payload, v); err != nil {
		return errorf(CodeBadRequest, "%s payload: %v", r.Type, err)
	}
	var err error
	switch p := v.(type) {
	case *RegisterPayload:
		err = p.check()
	case *RenewRegistrationPayload:
		err = p.check()
	case *AuthorizePayload:
		err = p.check()
	}
	if err != nil {
		return errorf(CodeBadRequest, "%s payload: %v", r.Type, err)
	}
	return nil
}

func (p *RegisterPayload) check() error {
	if err := CheckToken(p.Token); err != nil {
		return err
	}
	if _, err := ParsePublicKey(p.PublicKey); err != nil {
		return err
	}
	return checkHostIP(p.Hostname, p.IP)
}

func (p *RenewRegistrationPayload) check() error {
	if len(p.PublicKey) > 0 {
		if _, err := ParsePublicKey(p.PublicKey); err != nil {
			return err
		}
	}
	return checkHostIP(p.Hostname, p.IP)
}

func (p *AuthorizePayload) check() error {
	for l, n := range p.Usage {
		if !l.Valid() {
			return fmt.Errorf("usage names license type %.40q; known types are rms, room, desktop", l)
		}
		if n < 0 || n > MaxUsage {
			return fmt.Errorf("usage of %s is %d, outside 0..%d", l, n, MaxUsage)
		}
	}
	return nil
}

// CheckToken reports whether s has the shape of a registration token: not
// blank, at most MaxToken printable ASCII characters without spaces.
func CheckToken(s string) error {
	if s == "" {
		return fmt.Errorf("registration token is empty")
	}
	if len(s) > MaxToken {
		return fmt.Errorf("registration token is %d characters, more than %d", len(s), MaxToken)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("registration token contains a blank or a character that is not printable ASCII")
		}
	}
	return nil
}

// MaskToken shows only the start and end of a token, for logs.
func MaskToken(s string) string {
	if len(s) <= 12 {
		return "***"
	}
	return s[:4] + "..." + s[len(s)-4:]
}

func checkNonce(s string) error {
	if len(s) != NonceLen {
		return fmt.Errorf("nonce must be %d characters, got %d", NonceLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("nonce must be base64url")
		}
	}
	return nil
}

func checkUDI(s string) error {
	if s == "" {
		return fmt.Errorf("udi is empty")
	}
	if len(s) > MaxUDI {
		return fmt.Errorf("udi is %d bytes, more than %d", len(s), MaxUDI)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return fmt.Errorf("udi contains a character that is not printable ASCII")
		}
	}
	return nil
}

func checkHostIP(host, ip string) error {
	if len(host) > MaxHostname {
		return fmt.Errorf("hostname is %d bytes, more than %d", len(host), MaxHostname)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("hostname %.60q contains %q; use letters, digits, '-' and '.'", host, c)
		}
	}
	if ip != "" {
		if len(ip) > MaxIP || net.ParseIP(ip) == nil {
			return fmt.Errorf("ip %.60q is not an IPv4 or IPv6 address", ip)
		}
	}
	return nil
}

// ParsePublicKey parses a PKIX DER ECDSA P-256 public key.
func ParsePublicKey(der []byte) (*ecdsa.PublicKey, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("public key is missing")
	}
	if len(der) > MaxPublicKey {
		return nil, fmt.Errorf("public key is %d bytes, more than %d", len(der), MaxPublicKey)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("public key is not ECDSA P-256")
	}
	return ek, nil
}

// decodeStrict decodes exactly one JSON value, refusing unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}
