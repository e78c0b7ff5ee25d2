package licproto

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// AnswerSigningPolicy marks the manager's answer signing certificate: the
// certificate policy (RFC 5280, 4.2.1.4, the purposes a certificate may be
// used for) 2.25.300259188097206829022215651408746699439, an OID under the
// UUID arc 2.25 (ITU-T X.667: anyone may form one from a random UUID, here
// e1e3d0ee-c5ca-4d0c-96eb-4b331260daaf, without registering it). The
// device accepts answers only from a certificate carrying it, so that no
// other certificate of the manager CA (a device identity certificate, the
// TLS server certificate) can sign answers. It is a policy and not an
// extended key usage because Go's certificate parser limits OID arcs in
// extended key usages to 31 bits, too small for a UUID arc, and vxway owns
// no arc of its own.
var AnswerSigningPolicy = mustOID("2.25.300259188097206829022215651408746699439")

func mustOID(s string) x509.OID {
	o, err := x509.ParseOID(s)
	if err != nil {
		panic(err)
	}
	return o
}

// IsAnswerSigner reports whether c carries AnswerSigningPolicy.
func IsAnswerSigner(c *x509.Certificate) bool {
	return slices.ContainsFunc(c.Policies, AnswerSigningPolicy.Equal)
}

// Signer signs manager answers. It is safe for concurrent use.
type Signer struct {
	key       *ecdsa.PrivateKey
	chain     [][]byte
	chainJSON []byte // the chain encoded once, as SignedAnswer.Chain
}

// NewSigner returns a Signer for key, whose certificate chain (signing
// certificate first, DER) is sent with every answer.
func NewSigner(key *ecdsa.PrivateKey, chain [][]byte) (*Signer, error) {
	if key == nil || len(chain) == 0 {
		return nil, fmt.Errorf("answer signer needs a key and its certificate")
	}
	if len(chain) > MaxChain {
		return nil, fmt.Errorf("answer signer chain has %d certificates, more than %d", len(chain), MaxChain)
	}
	cert, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("parsing answer signing certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("answer signing certificate does not match the signing key")
	}
	if !IsAnswerSigner(cert) {
		return nil, fmt.Errorf("answer signing certificate lacks the answer signing policy %s: devices would refuse its answers", AnswerSigningPolicy)
	}
	cj, err := json.Marshal(chain)
	if err != nil {
		return nil, fmt.Errorf("encoding answer signing chain: %w", err)
	}
	return &Signer{key: key, chain: chain, chainJSON: cj}, nil
}

// Answer builds the answer to req (which may be nil when the request could
// not be parsed) with the result payload or the error, stamped with now,
// and returns the signed wire body and the HTTP status to send.
func (s *Signer) Answer(req *Request, now time.Time, result any, aerr error) ([]byte, int, error) {
	a := Answer{Version: Version, Timestamp: now.UnixMilli()}
	if req != nil {
		a.Type, a.Nonce, a.UDI = req.Type, req.Nonce, req.UDI
	}
	status := 200
	if aerr != nil {
		e, ok := aerr.(*Error)
		if !ok {
			e = &Error{Code: CodeInternal, Message: "internal error in the license manager; see the manager log"}
		}
		if len(e.Message) > MaxMessage {
			e = &Error{Code: e.Code, Message: e.Message[:MaxMessage]}
		}
		a.Status, a.Error = StatusError, e
		status = e.HTTPStatus()
	} else {
		p, err := json.Marshal(result)
		if err != nil {
			return nil, 0, fmt.Errorf("encoding %s result: %w", a.Type, err)
		}
		a.Status, a.Payload = StatusOK, p
	}
	ab, err := json.Marshal(&a)
	if err != nil {
		return nil, 0, fmt.Errorf("encoding answer: %w", err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, answerDigest(ab))
	if err != nil {
		return nil, 0, fmt.Errorf("signing answer: %w", err)
	}
	// The same bytes json.Marshal(&SignedAnswer{...}) gives, without
	// encoding the constant chain again for every answer.
	enc := base64.StdEncoding
	body := make([]byte, 0, 40+enc.EncodedLen(len(ab))+enc.EncodedLen(len(sig))+len(s.chainJSON))
	body = append(body, `{"answer":"`...)
	body = enc.AppendEncode(body, ab)
	body = append(body, `","signature":"`...)
	body = enc.AppendEncode(body, sig)
	body = append(body, `","chain":`...)
	body = append(body, s.chainJSON...)
	body = append(body, '}')
	return body, status, nil
}

// Verifier checks manager answers on the device. It pins the manager CA
// pool and caches signing chains it has verified. It is safe for
// concurrent use.
type Verifier struct {
	roots *x509.CertPool

	mu    sync.Mutex
	cache map[[32]byte]verifiedKey
}

type verifiedKey struct {
	pub      *ecdsa.PublicKey
	notAfter time.Time
}

// NewVerifier returns a Verifier trusting only roots.
func NewVerifier(roots *x509.CertPool) *Verifier {
	return &Verifier{roots: roots, cache: map[[32]byte]verifiedKey{}}
}

// Verified is a checked answer.
type Verified struct {
	Answer
	// Skew is the manager's clock minus the device's at the time of the
	// answer (answer timestamp minus now).
	Skew time.Duration
}

// Verify checks body as the answer to req at device time now, expecting the
// manager's clock to be skew ahead of the device's (0 when unknown): the
// certificates must be valid at now plus skew. It checks size, signature,
// chain to the pinned CAs, nonce, type and UDI; the nonce, new for every
// request, is what refuses an answer replayed from another exchange, so
// the answer's timestamp is not judged: it is the manager's time, reported
// with the measured skew. It returns the answer even when it carries an
// error status; call Err on it.
func (v *Verifier) Verify(req *Request, body []byte, now time.Time, skew time.Duration) (*Verified, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrMalformedAnswer, len(body), MaxBody)
	}
	var sa SignedAnswer
	if err := decodeStrict(body, &sa); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
	}
	if len(sa.Chain) == 0 || len(sa.Chain) > MaxChain {
		return nil, fmt.Errorf("%w: %d certificates in the chain, want 1..%d", ErrMalformedAnswer, len(sa.Chain), MaxChain)
	}
	if len(sa.Signature) == 0 || len(sa.Signature) > MaxSignature {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrMalformedAnswer, len(sa.Signature))
	}
	pub, err := v.signingKey(sa.Chain, now.Add(skew))
	if err != nil {
		return nil, err
	}
	if !ecdsa.VerifyASN1(pub, answerDigest(sa.Answer), sa.Signature) {
		return nil, fmt.Errorf("%w: the signature does not verify", ErrUntrustedAnswer)
	}
	var a Answer
	if err := decodeStrict(sa.Answer, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedAnswer, err)
	}
	if a.Version != Version {
		return nil, fmt.Errorf("%w: version %d", ErrMalformedAnswer, a.Version)
	}
	if a.Status != StatusOK && a.Status != StatusError {
		return nil, fmt.Errorf("%w: status %.20q", ErrMalformedAnswer, a.Status)
	}
	if a.Error != nil && (len(a.Error.Message) > MaxMessage || len(a.Error.Code) > 64) {
		return nil, fmt.Errorf("%w: error message too long", ErrMalformedAnswer)
	}
	if a.Nonce != req.Nonce || a.Type != req.Type || a.UDI != req.UDI {
		return nil, fmt.Errorf("%w (nonce, type or UDI differ): a replayed or misrouted answer", ErrAnswerMismatch)
	}
	return &Verified{Answer: a, Skew: a.Time().Sub(now)}, nil
}

// signingKey verifies chain against the pinned roots at time t and returns
// the signing key, caching the result per chain.
func (v *Verifier) signingKey(chain [][]byte, t time.Time) (*ecdsa.PublicKey, error) {
	h := sha256.New()
	for _, c := range chain {
		if len(c) > MaxCertificate {
			return nil, fmt.Errorf("%w: certificate of %d bytes", ErrMalformedAnswer, len(c))
		}
		sum := sha256.Sum256(c)
		h.Write(sum[:])
	}
	var id [32]byte
	copy(id[:], h.Sum(nil))
	v.mu.Lock()
	k, ok := v.cache[id]
	v.mu.Unlock()
	if ok && t.Before(k.notAfter) {
		return k.pub, nil
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("%w: parsing signing certificate: %v", ErrUntrustedAnswer, err)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		ic, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("%w: parsing intermediate certificate: %v", ErrUntrustedAnswer, err)
		}
		inter.AddCert(ic)
	}
	if v.roots == nil {
		return nil, fmt.Errorf("%w: no manager CA is trusted", ErrUntrustedAnswer)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: v.roots, Intermediates: inter, CurrentTime: t,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: Unknown CA: %v", ErrUntrustedAnswer, err)
	}
	if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 || !IsAnswerSigner(leaf) {
		return nil, fmt.Errorf("%w: the signing certificate is not the manager's answer signing certificate (a CA, or without digital signature or the answer signing policy); "+
			"a manager from before that policy reissues its certificate when it starts", ErrUntrustedAnswer)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("%w: the signing key is not ECDSA P-256", ErrUntrustedAnswer)
	}
	v.mu.Lock()
	if len(v.cache) > 64 {
		clear(v.cache)
	}
	v.cache[id] = verifiedKey{pub: pub, notAfter: leaf.NotAfter}
	v.mu.Unlock()
	return pub, nil
}
