// Package ssm is the vxway license manager: the server that plays both the
// vendor cloud (Direct transport) and the customer's on-prem manager. It
// holds smart accounts, virtual accounts, purchased licenses, registration
// tokens and product instances in a database (SQLite or PostgreSQL), issues
// device identity certificates from its own CA, answers the devices'
// licproto requests with signed answers, and offers a JSON admin API.
package ssm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"vxway/clock"
	"vxway/licproto"
)

// Manager answers agent requests.
type Manager struct {
	store  *Store
	pki    *PKI
	signer *licproto.Signer
	replay *licproto.Replay
	clock  clock.Clock
	log    *slog.Logger
	// logs samples the lines a stranger can cause (refusals, failed TLS
	// handshakes, rate-limited requests).
	logs *logSampler
	// limit rate-limits agent requests and TLS handshakes per source
	// (nil: no limit); set by Serve.
	limit *limiter

	mu   sync.Mutex
	keys map[string]cachedKey // UDI -> registered key
	// names caches, per token hash, the account names a token grants
	// (they never change): the identity certificate names them before the
	// registration's transaction checks the token itself.
	names map[string]TokenGrant
	// decoy is verified against for a request from an unknown instance,
	// so that it costs what a known one does.
	decoy *ecdsa.PrivateKey
}

// maxCachedTokens bounds the token names cache.
const maxCachedTokens = 1024

type cachedKey struct {
	b64 string
	pub *ecdsa.PublicKey
}

// maxCachedKeys bounds the parsed-key cache.
const maxCachedKeys = 100_000

// NewManager returns a Manager over store and pki. log may be nil.
func NewManager(store *Store, pki *PKI, clk clock.Clock, log *slog.Logger) (*Manager, error) {
	signer, err := licproto.NewSigner(pki.SignerKey, [][]byte{pki.Signer.Raw})
	if err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	decoy, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making a key: %w", err)
	}
	return &Manager{store: store, pki: pki, signer: signer, replay: licproto.NewReplay(0, 0), clock: clk, log: log, logs: newLogSampler(log, clk),
		keys: map[string]cachedKey{}, names: map[string]TokenGrant{}, decoy: decoy}, nil
}

// Handle answers one request body and returns the signed answer body and
// its HTTP status. Every refusal leaves the database unchanged.
func (m *Manager) Handle(ctx context.Context, body []byte) ([]byte, int) {
	req, result, err := m.handle(ctx, body)
	now := m.clock.Now()
	if err != nil {
		var pe *licproto.Error
		if !errors.As(err, &pe) {
			m.log.Error("request failed", "type", typeOf(req), "udi", udiOf(req), "err", err)
		} else {
			m.logs.info("refused", "request refused", "type", typeOf(req), "udi", udiOf(req), "code", pe.Code, "reason", pe.Message)
			err = pe
		}
	}
	out, status, serr := m.signer.Answer(req, now, result, err)
	if serr != nil {
		m.log.Error("signing answer", "err", serr)
		return []byte(`{"error":"the manager could not sign its answer"}`), 500
	}
	return out, status
}

func typeOf(r *licproto.Request) string {
	if r == nil {
		return ""
	}
	return string(r.Type)
}

func udiOf(r *licproto.Request) string {
	if r == nil {
		return ""
	}
	return r.UDI
}

func (m *Manager) handle(ctx context.Context, body []byte) (*licproto.Request, any, error) {
	req, err := licproto.ParseRequest(body)
	if err != nil {
		// Bind the refusal to the request when its envelope allows, so
		// that the device can verify it and show the reason.
		return licproto.Binding(body), nil, err
	}
	now := m.clock.Now()
	// A request with a counter is guarded by it, in the database (seq.go):
	// its timestamp is not judged, so a device whose clock is off by
	// months is served. A legacy request without one is guarded by its
	// timestamp and nonce in memory: cheap checks come first (the
	// timestamp, a nonce already seen), then the token of a registration,
	// then the signature; the nonce is recorded only after the signature
	// verifies (and, for a registration, its token is known good), so
	// that a forged request can neither burn a genuine nonce nor fill the
	// replay guard.
	if req.Seq == 0 {
		if err := m.replay.Fresh(req, now); err != nil {
			return req, nil, err
		}
	}
	switch req.Type {
	case licproto.TypeRegister:
		var p licproto.RegisterPayload
		if err := req.DecodePayload(&p); err != nil {
			return req, nil, err
		}
		g, err := m.grant(ctx, req, p.Token, now)
		if err != nil {
			return req, nil, err
		}
		pub, _ := licproto.ParsePublicKey(p.PublicKey) // checked by DecodePayload
		if err := req.VerifySignature(pub); err != nil {
			return req, nil, err
		}
		if err := m.legacyCheck(req, now); err != nil {
			return req, nil, err
		}
		res, err := m.register(ctx, req, &p, pub, g)
		return req, res, err
	case licproto.TypeRenewRegistration:
		var p licproto.RenewRegistrationPayload
		key, err := m.admit(ctx, req, &p, now)
		if err != nil {
			return req, nil, err
		}
		res, err := m.renew(ctx, req, &p, key)
		return req, res, err
	case licproto.TypeAuthorize:
		var p licproto.AuthorizePayload
		key, err := m.admit(ctx, req, &p, now)
		if err != nil {
			return req, nil, err
		}
		res, err := m.store.Authorize(ctx, req.UDI, key.b64, req.Seq, p.Usage, now)
		if err != nil {
			m.forget(req.UDI, err)
			return req, nil, err
		}
		return req, res, nil
	case licproto.TypeDeregister:
		var p licproto.DeregisterPayload
		key, err := m.admit(ctx, req, &p, now)
		if err != nil {
			return req, nil, err
		}
		err = m.store.Deregister(ctx, req.UDI, key.b64, req.Seq, now)
		m.forget(req.UDI, nil)
		if err != nil {
			return req, nil, err
		}
		m.log.Info("deregistered", "udi", req.UDI)
		return req, &licproto.DeregisterResult{}, nil
	}
	return req, nil, licproto.Errorf(licproto.CodeBadRequest, "request type %q is not handled", req.Type)
}

// admit decodes the payload of a request from a registered instance into
// p, verifies its signature with the instance's key and records its nonce.
func (m *Manager) admit(ctx context.Context, req *licproto.Request, p any, now time.Time) (cachedKey, error) {
	if err := req.DecodePayload(p); err != nil {
		return cachedKey{}, err
	}
	key, err := m.verify(ctx, req)
	if err != nil {
		return cachedKey{}, err
	}
	if err := m.legacyCheck(req, now); err != nil {
		return cachedKey{}, err
	}
	return key, nil
}

// legacyCheck records the nonce of a legacy request (one without a
// counter) in the in-memory replay guard, or refuses it; a request with a
// counter is checked in the database, with its effect.
func (m *Manager) legacyCheck(req *licproto.Request, now time.Time) error {
	if req.Seq != 0 {
		return nil
	}
	return m.replay.Check(req, now)
}

// verify checks a request signature against the instance's registered key,
// from the cache when possible. A cached key that no longer verifies is
// reloaded once (the key may have been replaced through another manager).
// An unknown instance and a signature by another key are refused alike
// (notRegisteredWith), after the same work: one verification.
func (m *Manager) verify(ctx context.Context, req *licproto.Request) (cachedKey, error) {
	m.mu.Lock()
	k, cached := m.keys[req.UDI]
	m.mu.Unlock()
	if cached {
		if err := req.VerifySignature(k.pub); err == nil {
			return k, nil
		}
	}
	b64, err := m.store.InstanceKey(ctx, req.UDI)
	if errors.Is(err, licproto.ErrNotRegistered) {
		if !cached {
			req.VerifySignature(&m.decoy.PublicKey) // the work a known instance costs
		}
		return cachedKey{}, err
	}
	if err != nil {
		return cachedKey{}, err
	}
	if cached && b64 == k.b64 {
		return cachedKey{}, notRegisteredWith(req.UDI)
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return cachedKey{}, fmt.Errorf("decoding stored key of %s: %w", req.UDI, err)
	}
	pub, err := licproto.ParsePublicKey(der)
	if err != nil {
		return cachedKey{}, fmt.Errorf("stored key of %s: %w", req.UDI, err)
	}
	k = cachedKey{b64: b64, pub: pub}
	if err := req.VerifySignature(pub); err != nil {
		return cachedKey{}, notRegisteredWith(req.UDI)
	}
	m.remember(req.UDI, k)
	return k, nil
}

func (m *Manager) remember(udi string, k cachedKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.keys) >= maxCachedKeys {
		clear(m.keys)
	}
	m.keys[udi] = k
}

// forget drops a cached key after an error that says it is stale.
func (m *Manager) forget(udi string, err error) {
	if err != nil && !errors.Is(err, licproto.ErrBadSignature) && !errors.Is(err, licproto.ErrNotRegistered) {
		return
	}
	m.mu.Lock()
	delete(m.keys, udi)
	m.mu.Unlock()
}

// grant returns what a registration's token grants, from the cache or
// from a read-only look that refuses a bad token before anything else is
// done. The registration's transaction checks the token again and is what
// counts.
func (m *Manager) grant(ctx context.Context, req *licproto.Request, token string, now time.Time) (TokenGrant, error) {
	h := hashToken(token)
	m.mu.Lock()
	g, ok := m.names[h]
	m.mu.Unlock()
	if ok {
		return g, nil
	}
	grant, err := m.store.CheckToken(ctx, token, now)
	if err != nil {
		return TokenGrant{}, err
	}
	m.mu.Lock()
	if len(m.names) >= maxCachedTokens {
		clear(m.names)
	}
	m.names[h] = *grant
	m.mu.Unlock()
	return *grant, nil
}

func (m *Manager) register(ctx context.Context, req *licproto.Request, p *licproto.RegisterPayload, pub *ecdsa.PublicKey, g TokenGrant) (*licproto.RegisterResult, error) {
	now := m.clock.Now()
	// The certificate names the token's accounts.
	der, serial, notAfter, err := m.pki.IssueIdentity(pub, req.UDI, g.SmartAccount, g.VirtualAccount, now)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString(p.PublicKey)
	grant, err := m.store.Register(ctx, &Registration{Token: p.Token, UDI: req.UDI, PublicKey: b64, CertSerial: serial, CertNotAfter: notAfter,
		Hostname: p.Hostname, IP: p.IP, Reregister: p.Reregister, Seq: req.Seq}, now)
	if err != nil {
		return nil, err
	}
	m.remember(req.UDI, cachedKey{b64: b64, pub: pub})
	m.log.Info("registered", "udi", req.UDI, "va", grant.VirtualAccount, "token", licproto.MaskToken(p.Token))
	return &licproto.RegisterResult{Certificate: der, SmartAccount: grant.SmartAccount, VirtualAccount: grant.VirtualAccount, ExportControlled: grant.ExportControlled}, nil
}

func (m *Manager) renew(ctx context.Context, req *licproto.Request, p *licproto.RenewRegistrationPayload, key cachedKey) (*licproto.RegisterResult, error) {
	now := m.clock.Now()
	pub, b64 := key.pub, ""
	if len(p.PublicKey) > 0 {
		pub, _ = licproto.ParsePublicKey(p.PublicKey) // checked by DecodePayload
		b64 = base64.StdEncoding.EncodeToString(p.PublicKey)
	}
	// The certificate names the accounts as they are at issue time; read
	// them through the instance.
	in, err := m.store.instance(ctx, req.UDI)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, notRegisteredWith(req.UDI)
		}
		return nil, err
	}
	der, serial, notAfter, err := m.pki.IssueIdentity(pub, req.UDI, in.SmartAccount, in.VirtualAccount, now)
	if err != nil {
		return nil, err
	}
	g, err := m.store.Renew(ctx, &Renewal{UDI: req.UDI, SignedBy: key.b64, NewKey: b64, CertSerial: serial, CertNotAfter: notAfter,
		Hostname: p.Hostname, IP: p.IP, Seq: req.Seq}, now)
	if err != nil {
		m.forget(req.UDI, err)
		return nil, err
	}
	if b64 != "" {
		m.remember(req.UDI, cachedKey{b64: b64, pub: pub})
	}
	return &licproto.RegisterResult{Certificate: der, SmartAccount: g.SmartAccount, VirtualAccount: g.VirtualAccount, ExportControlled: g.ExportControlled}, nil
}
