// Package bundle is the format of a vxway upgrade bundle (.vxu): what a
// system slot needs (kernel, initramfs) behind a manifest (product,
// version, build time, kernel command line, size and SHA-256 of each part)
// signed with an Ed25519 build key. The host tool writes bundles; the
// device opens them, checks the signature against the keys its image
// trusts, the size against the manifest, and the parts against their
// hashes before anything is written.
//
// Layout, all integers big-endian:
//
//	magic      8 bytes  "VXWAYUP1"
//	length     4 bytes  manifest length, at most MaxManifest
//	manifest   JSON     (Manifest)
//	key id     8 bytes  the first 8 bytes of SHA-256 of the signing public key
//	signature 64 bytes  Ed25519 over SignedPrefix + manifest
//	parts               each part's bytes, in manifest order, nothing after
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Magic starts every bundle.
const Magic = "VXWAYUP1"

// SignedPrefix is prepended to the manifest for signing, so that a
// signature over a bundle manifest cannot pass for any other signature of
// the same key.
const SignedPrefix = "vxway upgrade bundle manifest\x00"

// Limits of what a device reads.
const (
	MaxManifest = 64 << 10
	// MaxSize bounds a whole bundle: the slot must fit the ESP.
	MaxSize = 256 << 20
	// FormatVersion is the manifest format this package reads and writes.
	FormatVersion = 1
)

// Part names: what a slot holds.
const (
	PartKernel    = "vmlinuz"
	PartInitramfs = "initramfs.img"
)

// PartNames lists the parts every bundle carries, in bundle order.
func PartNames() []string { return []string{PartKernel, PartInitramfs} }

const (
	magicLen = len(Magic)
	keyIDLen = 8
	sigLen   = ed25519.SignatureSize
)

// Errors a caller branches on; each refusal wraps one of them with the
// details.
var (
	ErrNotBundle    = errors.New("not a vxway upgrade bundle")
	ErrTruncated    = errors.New("bundle truncated")
	ErrOversized    = errors.New("bundle oversized")
	ErrUnknownKey   = errors.New("bundle signed by a key this device does not trust")
	ErrBadSignature = errors.New("bundle signature does not verify")
	ErrBadManifest  = errors.New("bundle manifest invalid")
	ErrHashMismatch = errors.New("bundle part does not match its manifest hash")
)

// Part is one file of a slot as the manifest describes it.
type Part struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest describes a bundle.
type Manifest struct {
	Format     int    `json:"format"`
	Product    string `json:"product"`
	Version    string `json:"version"`
	BuildEpoch int64  `json:"build_epoch"`
	// Cmdline is the kernel command line of the slot's boot entry.
	Cmdline string `json:"cmdline"`
	Parts   []Part `json:"parts"`
}

var (
	// wordRE and hashRE are compiled at their first use: their bounded
	// repetitions make large programs, which every device program (one
	// binary) would otherwise compile at each start.
	wordRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\x21-\x7e]{1,64}$`) })
	hashRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })
)

// ParseManifest decodes and checks a manifest: known fields only, format
// 1, product and version single words, a one-line command line with the
// console, and exactly the parts of PartNames with sizes and hashes.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifest {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadManifest, len(b), MaxManifest)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadManifest)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Check reports the first problem of m as ErrBadManifest.
func (m *Manifest) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadManifest, fmt.Sprintf(format, args...))
	}
	switch {
	case m.Format != FormatVersion:
		return bad("format %d, this device reads format %d", m.Format, FormatVersion)
	case !wordRE().MatchString(m.Product):
		return bad("product %q is not a word of 1 to 64 printable characters", m.Product)
	case !wordRE().MatchString(m.Version):
		return bad("version %q is not a word of 1 to 64 printable characters", m.Version)
	case m.BuildEpoch < 0:
		return bad("build_epoch %d is before 1970", m.BuildEpoch)
	case len(m.Cmdline) > 1024 || strings.ContainsAny(m.Cmdline, "\x00\n\r"):
		return bad("cmdline must be one line of at most 1024 bytes")
	case !strings.Contains(" "+m.Cmdline+" ", " console=ttyS0"):
		return bad("cmdline %q lacks console=ttyS0", m.Cmdline)
	}
	names := PartNames()
	if len(m.Parts) != len(names) {
		return bad("%d parts, want %d (%s)", len(m.Parts), len(names), strings.Join(names, ", "))
	}
	var total int64
	for i, p := range m.Parts {
		switch {
		case p.Name != names[i]:
			return bad("part %d is %q, want %q", i+1, p.Name, names[i])
		case p.Size <= 0 || p.Size > MaxSize:
			return bad("part %s has size %d, want 1 to %d", p.Name, p.Size, MaxSize)
		case !hashRE().MatchString(p.SHA256):
			return bad("part %s: sha256 %q is not 64 lower-case hex digits", p.Name, p.SHA256)
		}
		total += p.Size
	}
	if total > MaxSize {
		return bad("parts add up to %d bytes, at most %d", total, MaxSize)
	}
	return nil
}

// Marshal encodes the manifest as a bundle carries it (compact JSON, the
// same bytes for the same manifest).
func (m *Manifest) Marshal() ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding the manifest: %w", err)
	}
	return raw, nil
}

// Part returns the manifest's entry for name.
func (m *Manifest) Part(name string) (Part, bool) {
	for _, p := range m.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// KeyID is the identifier a bundle names its signing key by: the first 8
// bytes of the SHA-256 of the public key, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:keyIDLen])
}

// Bundle is an opened bundle whose signature and size have been checked.
type Bundle struct {
	Manifest *Manifest
	// RawManifest is the signed manifest as the bundle holds it.
	RawManifest []byte
	// KeyID names the key that signed it.
	KeyID string
	r     io.ReaderAt
	parts map[string]int64 // name -> offset
}

// Open reads the head of a bundle of size bytes from r and checks, in this
// order: the magic, the manifest length, that the signing key is one of
// trusted, the signature, the manifest, and that the size is exactly what
// the manifest adds up to. The parts are not read: call Verify.
func Open(r io.ReaderAt, size int64, trusted []ed25519.PublicKey) (*Bundle, error) {
	if size > MaxSize+MaxManifest+int64(magicLen+4+keyIDLen+sigLen) {
		return nil, fmt.Errorf("%w: %d bytes, a bundle has at most %d", ErrOversized, size, MaxSize)
	}
	head := make([]byte, magicLen+4)
	if _, err := r.ReadAt(head, 0); err != nil {
		if size < int64(len(head)) {
			return nil, fmt.Errorf("%w: %d bytes is shorter than a bundle header", ErrNotBundle, size)
		}
		return nil, fmt.Errorf("reading the bundle header: %w", err)
	}
	if string(head[:magicLen]) != Magic {
		return nil, fmt.Errorf("%w: it does not start with %q", ErrNotBundle, Magic)
	}
	mlen := int64(binary.BigEndian.Uint32(head[magicLen:]))
	if mlen == 0 || mlen > MaxManifest {
		return nil, fmt.Errorf("%w: manifest length %d, want 1 to %d", ErrBadManifest, mlen, MaxManifest)
	}
	bodyStart := int64(len(head)) + mlen + keyIDLen + sigLen
	if size < bodyStart {
		return nil, fmt.Errorf("%w: %d bytes, the header alone needs %d", ErrTruncated, size, bodyStart)
	}
	rest := make([]byte, mlen+keyIDLen+sigLen)
	if _, err := r.ReadAt(rest, int64(len(head))); err != nil {
		return nil, fmt.Errorf("reading the bundle manifest: %w", err)
	}
	raw := rest[:mlen]
	keyID := hex.EncodeToString(rest[mlen : mlen+keyIDLen])
	sig := rest[mlen+keyIDLen:]
	var key ed25519.PublicKey
	var known []string
	for _, k := range trusted {
		if KeyID(k) == keyID {
			key = k
		}
		known = append(known, KeyID(k))
	}
	if key == nil {
		if len(known) == 0 {
			known = []string{"none"}
		}
		return nil, fmt.Errorf("%w: signed by key %s; trusted keys: %s", ErrUnknownKey, keyID, strings.Join(known, ", "))
	}
	if !ed25519.Verify(key, append([]byte(SignedPrefix), raw...), sig) {
		return nil, fmt.Errorf("%w: key %s did not sign this manifest (the bundle was altered or damaged)", ErrBadSignature, keyID)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	want := bodyStart
	parts := map[string]int64{}
	for _, p := range m.Parts {
		parts[p.Name] = want
		want += p.Size
	}
	switch {
	case size < want:
		return nil, fmt.Errorf("%w: %d bytes, the manifest promises %d (download it again)", ErrTruncated, size, want)
	case size > want:
		return nil, fmt.Errorf("%w: %d bytes, the manifest promises %d (%d extra bytes)", ErrOversized, size, want, size-want)
	}
	return &Bundle{Manifest: m, RawManifest: raw, KeyID: keyID, r: r, parts: parts}, nil
}

// Reader returns the bytes of the named part.
func (b *Bundle) Reader(name string) (*io.SectionReader, error) {
	p, ok := b.Manifest.Part(name)
	if !ok {
		return nil, fmt.Errorf("%w: no part %q", ErrBadManifest, name)
	}
	return io.NewSectionReader(b.r, b.parts[name], p.Size), nil
}

// Verify hashes every part and compares it with the manifest.
func (b *Bundle) Verify() error {
	for _, p := range b.Manifest.Parts {
		r, err := b.Reader(p.Name)
		if err != nil {
			return err
		}
		if err := CheckHash(r, p); err != nil {
			return err
		}
	}
	return nil
}

// CheckHash reads r to the end and compares its size and SHA-256 with p.
func CheckHash(r io.Reader, p Part) error {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("reading part %s: %w", p.Name, err)
	}
	if n != p.Size {
		return fmt.Errorf("%w: part %s has %d bytes, the manifest says %d", ErrHashMismatch, p.Name, n, p.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("%w: part %s has sha256 %s, the manifest says %s", ErrHashMismatch, p.Name, got, p.SHA256)
	}
	return nil
}

// Source is a part to put into a bundle.
type Source struct {
	Name string
	Open func() (io.ReadCloser, error)
}

// Write writes a bundle of m (whose Parts are filled in from the sources,
// in PartNames order) signed with key. The same inputs and key give the
// same bytes (Ed25519 signatures are deterministic).
func Write(w io.Writer, key ed25519.PrivateKey, m Manifest, sources []Source) (*Manifest, error) {
	m.Format = FormatVersion
	m.Parts = nil
	for _, s := range sources {
		rc, err := s.Open()
		if err != nil {
			return nil, fmt.Errorf("opening part %s: %w", s.Name, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading part %s: %w", s.Name, err)
		}
		m.Parts = append(m.Parts, Part{Name: s.Name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	raw, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxManifest {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadManifest, len(raw), MaxManifest)
	}
	pub := key.Public().(ed25519.PublicKey)
	id, _ := hex.DecodeString(KeyID(pub))
	var head bytes.Buffer
	head.WriteString(Magic)
	binary.Write(&head, binary.BigEndian, uint32(len(raw)))
	head.Write(raw)
	head.Write(id)
	head.Write(ed25519.Sign(key, append([]byte(SignedPrefix), raw...)))
	if _, err := w.Write(head.Bytes()); err != nil {
		return nil, fmt.Errorf("writing the bundle: %w", err)
	}
	for i, s := range sources {
		rc, err := s.Open()
		if err != nil {
			return nil, fmt.Errorf("opening part %s: %w", s.Name, err)
		}
		// The part is hashed again as it is copied, so a source that
		// changed between the two reads cannot go out unnoticed.
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("writing part %s: %w", s.Name, err)
		}
		if n != m.Parts[i].Size || hex.EncodeToString(h.Sum(nil)) != m.Parts[i].SHA256 {
			return nil, fmt.Errorf("part %s changed while the bundle was written", s.Name)
		}
	}
	return &m, nil
}
