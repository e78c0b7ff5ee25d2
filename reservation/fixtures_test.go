package reservation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"
)

// detReader is a deterministic byte stream (SHA-256 in counter mode), so
// that test requests and keys are the same on every run.
type detReader struct {
	seed string
	n    uint64
	buf  []byte
}

func (r *detReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], r.n)
		r.n++
		h := sha256.Sum256(append([]byte(r.seed), c[:]...))
		r.buf = append(r.buf, h[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// testKey makes a P-256 key from a fixed seed.
func testKey(t testing.TB, seed string) *ecdsa.PrivateKey {
	t.Helper()
	r := &detReader{seed: "manager key " + seed}
	for {
		b := make([]byte, 32)
		r.Read(b)
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b)
		if err == nil {
			return k
		}
	}
}

func testSigner(t testing.TB, seed string) *Signer {
	t.Helper()
	s, err := NewSigner(testKey(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testKeys(t testing.TB, signers ...*Signer) KeySet {
	t.Helper()
	var pubs []*ecdsa.PublicKey
	for _, s := range signers {
		pubs = append(pubs, s.Public())
	}
	ks, err := NewKeySet(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

var (
	udiA = UDI{PID: "Expressway", SN: "08F8FF3C", VID: "1.0"}
	udiB = UDI{PID: "Expressway", SN: "0B070519", VID: "1.0"}
)

func testRequest(t testing.TB, udi UDI, seed string) *Request {
	t.Helper()
	r, err := NewRequest(udi, "320aa69d", &detReader{seed: "request " + seed})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// t0 is the manager's time for the first code in tests.
var t0 = time.Date(2026, time.May, 11, 9, 30, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func testEntitlements() []Entitlement {
	return []Entitlement{
		RMS.Entitlement(10, date(2026, time.May, 11), date(2027, time.May, 10)),
		Room.Entitlement(5, time.Time{}, time.Time{}),
		Desktop.Entitlement(20, date(2026, time.May, 1), date(2026, time.December, 31)),
	}
}
