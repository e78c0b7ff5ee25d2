package cluster

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"golang.org/x/crypto/scrypt"
)

// The authenticated channel between two peers. Go's TLS has no external
// pre-shared keys, so the channel is TLS 1.3 with a throwaway certificate
// on each side (made at start, never checked) and, before any other
// message, a proof of the cluster secret in each direction:
//
//	proof = HMAC-SHA256(key, role || exporter)
//
// where exporter is the TLS exporter of this connection
// (ExportKeyingMaterial, RFC 8446 §7.5) and key is derived from the
// secret and the cluster name with scrypt. The client proves first; the
// server answers with its own proof only after checking the client's, so
// a stranger that connects learns nothing. Because the exporter is unique
// to one TLS session, a proof cannot be replayed or relayed into another
// connection: a man in the middle holds two sessions with two different
// exporters and can forge neither proof. The secret never crosses the
// wire, and the session keys come from an ephemeral (EC)DHE exchange.

// proofLen is a proof's length in bytes.
const proofLen = sha256.Size

// exporterLabel is the TLS exporter label of the proof.
const exporterLabel = "EXPORTER-vxway-cluster-proof"

// Time limits of a connection.
const (
	dialTimeout      = 2 * time.Second
	handshakeTimeout = 5 * time.Second
)

// maxConns caps the connections a node serves at once, authenticated or
// not.
const maxConns = 4 * MaxPeers

// errProof is the refusal of a peer that did not prove the secret.
var errProof = errors.New("the peer did not prove the cluster secret (a different secret or cluster name)")

// deriveKey is the proof key of a cluster: scrypt makes every guess of
// the secret from an observed proof cost tens of milliseconds.
func deriveKey(name, secret string) ([]byte, error) {
	k, err := scrypt.Key([]byte(secret), []byte("vxway cluster v1\x00"+name), 1<<14, 8, 1, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the cluster key: %w", err)
	}
	return k, nil
}

// proof is one side's proof over a connection.
func proof(key []byte, role string, cs tls.ConnectionState) ([]byte, error) {
	ekm, err := cs.ExportKeyingMaterial(exporterLabel, nil, 32)
	if err != nil {
		return nil, fmt.Errorf("reading the TLS exporter: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(role))
	m.Write([]byte{0})
	m.Write(ekm)
	return m.Sum(nil), nil
}

// selfCertificate makes a throwaway certificate for one run of a node.
func selfCertificate(now time.Time) (tls.Certificate, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making the cluster link key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "vxway cluster peer"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making the cluster link certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, nil
}

// tlsConfig is the TLS configuration of both roles: TLS 1.3 only, a
// certificate required from both sides, and no certificate checks (the
// proof authenticates the peer).
func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		ClientAuth:         tls.RequireAnyClientCert,
		InsecureSkipVerify: true, // the proof of the secret, bound to this session, authenticates
	}
}

// conn is an authenticated peer connection.
type conn struct {
	c    *tls.Conn
	r    *bufio.Reader
	peer string // the peer's node name, from its hello
	// instance is the peer's instance id, from its hello (empty from a
	// peer of an earlier version).
	instance string
}

func (c *conn) Close() error { return c.c.Close() }

// write sends one message line before deadline.
func (c *conn) write(v any, deadline time.Time) error {
	b, err := encodeLine(v)
	if err != nil {
		return err
	}
	c.c.SetWriteDeadline(deadline)
	_, err = c.c.Write(b)
	return err
}

// read reads one line before deadline.
func (c *conn) read(deadline time.Time) ([]byte, error) {
	c.c.SetReadDeadline(deadline)
	return readLine(c.r, maxMessage)
}

// dialPeer connects to a peer, runs the handshake and the proofs.
func dialPeer(ctx context.Context, addr string, cfg *tls.Config, key []byte, self, instance string) (*conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(handshakeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	raw.SetDeadline(deadline)
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	c := &conn{c: tc, r: bufio.NewReaderSize(tc, 4096)}
	mine, err := proof(key, "client", tc.ConnectionState())
	if err == nil {
		err = c.write(hello{Version: protocolVersion, Node: self, Instance: instance, Proof: hex.EncodeToString(mine)}, deadline)
	}
	var h hello
	if err == nil {
		var b []byte
		if b, err = c.read(deadline); err == nil {
			h, err = decodeHello(b)
		}
	}
	if err != nil {
		tc.Close()
		if errors.Is(err, errMessage) {
			return nil, err
		}
		// A server that refuses the proof closes without a word.
		return nil, fmt.Errorf("%w: %v", errProof, err)
	}
	want, err := proof(key, "server", tc.ConnectionState())
	if err != nil {
		tc.Close()
		return nil, err
	}
	got, _ := hex.DecodeString(h.Proof)
	if !hmac.Equal(got, want) {
		tc.Close()
		return nil, errProof
	}
	c.peer, c.instance = h.Node, h.Instance
	raw.SetDeadline(time.Time{})
	return c, nil
}

// acceptPeer runs the server side of the handshake and the proofs on a
// fresh connection: the client proves first, and a client that does not
// is dropped without an answer.
func acceptPeer(raw net.Conn, cfg *tls.Config, key []byte, self, instance string) (*conn, error) {
	deadline := time.Now().Add(handshakeTimeout)
	raw.SetDeadline(deadline)
	tc := tls.Server(raw, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	c := &conn{c: tc, r: bufio.NewReaderSize(tc, 4096)}
	b, err := c.read(deadline)
	if err != nil {
		return nil, fmt.Errorf("reading the peer's hello: %w", err)
	}
	h, err := decodeHello(b)
	if err != nil {
		return nil, err
	}
	want, err := proof(key, "client", tc.ConnectionState())
	if err != nil {
		return nil, err
	}
	got, _ := hex.DecodeString(h.Proof)
	if !hmac.Equal(got, want) {
		return nil, errProof
	}
	mine, err := proof(key, "server", tc.ConnectionState())
	if err != nil {
		return nil, err
	}
	if err := c.write(hello{Version: protocolVersion, Node: self, Instance: instance, Proof: hex.EncodeToString(mine)}, deadline); err != nil {
		return nil, fmt.Errorf("sending the hello: %w", err)
	}
	c.peer, c.instance = h.Node, h.Instance
	raw.SetDeadline(time.Time{})
	return c, nil
}
