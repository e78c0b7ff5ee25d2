package reservation

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"
)

// ReturnKind says what a return code gives back.
type ReturnKind byte

// The return kinds.
const (
	// ReturnInstalled: the device dropped the code it had installed
	// (`xcommand License Smart Reservation Return`).
	ReturnInstalled ReturnKind = 1
	// ReturnUninstalled: the device never installed the code and will not
	// (`xcommand License Smart Reservation ReturnAuthorization "<code>"`).
	ReturnUninstalled ReturnKind = 2
)

// String says what the kind gives back.
func (k ReturnKind) String() string {
	switch k {
	case ReturnInstalled:
		return "installed code returned"
	case ReturnUninstalled:
		return "code never installed"
	}
	return fmt.Sprintf("ReturnKind(%d)", byte(k))
}

// ReturnCode is a parsed return code, e.g.
// CR2xkq-... : which request and which authorization code it returns, and
// the device's MAC over them.
type ReturnCode struct {
	Kind       ReturnKind
	RequestTag [6]byte // first bytes of the request's digest: finds the product instance
	CodeTag    [6]byte // first bytes of the returned authorization code's id
	mac        [12]byte
}

const (
	returnPrefix  = "CR"
	returnVersion = 1
	returnLen     = 1 + 6 + 6 + 12
)

// ReturnCode makes the return code for a, an authorization code for this
// request, with the given kind. The device must drop (or refuse from now
// on) the code when it prints this.
func (r *Request) ReturnCode(a *Authorization, kind ReturnKind) (string, error) {
	if a.signer == nil {
		return "", errors.New("the authorization code was not verified")
	}
	if a.PIID != r.Code.PIID() {
		return "", fmt.Errorf("%w: the code is for product instance %s, the request is %s", ErrOtherRequest, a.PIID, r.Code.PIID())
	}
	if kind != ReturnInstalled && kind != ReturnUninstalled {
		return "", fmt.Errorf("unknown return kind %d", kind)
	}
	k, err := r.sharedKey(a.signer)
	if err != nil {
		return "", err
	}
	d := r.Code.Digest()
	rc := ReturnCode{Kind: kind, RequestTag: [6]byte(d[:6]), CodeTag: [6]byte(a.ID[:6])}
	rc.mac = returnMAC(k, kind, d, a.ID)
	return rc.String(), nil
}

func returnMAC(key []byte, kind ReturnKind, reqDigest [32]byte, id CodeID) [12]byte {
	return [12]byte(mac(key, []byte("return"), []byte{byte(kind)}, reqDigest[:], id[:])[:12])
}

// String formats rc in groups of six characters.
func (rc *ReturnCode) String() string {
	raw := make([]byte, 0, returnLen)
	raw = append(raw, returnVersion<<4|byte(rc.Kind))
	raw = append(raw, rc.RequestTag[:]...)
	raw = append(raw, rc.CodeTag[:]...)
	raw = append(raw, rc.mac[:]...)
	t := returnPrefix + encode58(raw)
	return group(t + checkChars(t))
}

// ParseReturnCode reads a return code. Dashes and white space are
// ignored; a mistyped code wraps ErrMistyped.
func ParseReturnCode(s string) (*ReturnCode, error) {
	if len(s) > 256 {
		return nil, fmt.Errorf("%w: return code is %d bytes", ErrOversized, len(s))
	}
	t := ungroup(s)
	if t == "" {
		return nil, fmt.Errorf("%w: return code is empty", ErrMalformed)
	}
	if !strings.HasPrefix(t, returnPrefix) {
		return nil, fmt.Errorf("%w: a return code starts with %q", ErrMalformed, returnPrefix)
	}
	want := len(returnPrefix) + width58(returnLen) + 2
	if len(t) != want {
		return nil, fmt.Errorf("%w: return code has %d characters (without dashes), want %d; copy the whole code", ErrMalformed, len(t), want)
	}
	body, check := t[:len(t)-2], t[len(t)-2:]
	raw, err := decode58(body[len(returnPrefix):], returnLen, "return code")
	if err != nil {
		return nil, err
	}
	if checkChars(body) != check {
		return nil, fmt.Errorf("return code: %w; copy it again from the device", ErrMistyped)
	}
	if raw[0]>>4 != returnVersion {
		return nil, fmt.Errorf("%w: return code version %d is not supported", ErrMalformed, raw[0]>>4)
	}
	kind := ReturnKind(raw[0] & 0x0f)
	if kind != ReturnInstalled && kind != ReturnUninstalled {
		return nil, fmt.Errorf("%w: return code kind %d is unknown", ErrMalformed, kind)
	}
	return &ReturnCode{
		Kind:       kind,
		RequestTag: [6]byte(raw[1:7]),
		CodeTag:    [6]byte(raw[7:13]),
		mac:        [12]byte(raw[13:25]),
	}, nil
}

// IsFor reports whether rc names the request req. The manager uses it to
// find the product instance a return code belongs to.
func (rc *ReturnCode) IsFor(req RequestCode) bool {
	d := req.Digest()
	return bytes.Equal(rc.RequestTag[:], d[:6])
}

// VerifyReturn checks that rc was made by the device that made req, for
// one of the authorization codes issued (ids of the codes this signer
// issued for req). It reports which one. It returns ErrOtherRequest when
// rc is for another request and ErrWrongReturn when it does not verify.
func (s *Signer) VerifyReturn(req RequestCode, rc *ReturnCode, issued []CodeID) (CodeID, error) {
	if !rc.IsFor(req) {
		return CodeID{}, fmt.Errorf("%w: the return code is not for product instance %s", ErrOtherRequest, req.PIID())
	}
	k, err := s.sharedKey(req)
	if err != nil {
		return CodeID{}, err
	}
	d := req.Digest()
	for _, id := range issued {
		if !bytes.Equal(id[:6], rc.CodeTag[:]) {
			continue
		}
		want := returnMAC(k, rc.Kind, d, id)
		if hmac.Equal(want[:], rc.mac[:]) {
			return id, nil
		}
	}
	return CodeID{}, fmt.Errorf("%w: it was not made by product instance %s for an authorization code issued to it", ErrWrongReturn, req.PIID())
}
