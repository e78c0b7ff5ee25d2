package backup

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// An archive is
//
//	"VXBACKUP"                 8 bytes
//	header length              4 bytes, big endian, at most MaxHeader
//	header                     JSON (Header)
//	sealed payload             AES-256-GCM of the payload JSON, tag last
//
// Everything before the sealed payload is the additional data of the
// AEAD, so a changed header fails like a changed payload. The key is the
// first half of argon2id(password, salt) with the header's parameters;
// the header keeps a hash of the second half (KeyCheck), which tells a
// wrong password from a damaged archive.
const magic = "VXBACKUP"

// Format is the archive format this code writes and reads.
const Format = 1

// Size limits of what a reader accepts.
const (
	MaxHeader  = 4 << 10
	MaxArchive = 32 << 20
	MaxFiles   = 256
)

// KDF is the key derivation's parameters, kept in the header.
type KDF struct {
	Name      string `json:"name"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

// DefaultKDF is what Create uses: argon2id, one pass over 64 MiB on one
// lane (more memory than OWASP's one-pass setting of 46 MiB; the device
// has one or two cores, and three passes took 11 s under software
// emulation).
var DefaultKDF = KDF{Name: "argon2id", Time: 1, MemoryKiB: 64 << 10, Threads: 1}

// Limits bound the key derivation a reader agrees to run, so that a crafted
// header cannot make the device spend gigabytes or minutes.
type Limits struct {
	MinMemoryKiB, MaxMemoryKiB uint32
	MaxTime                    uint32
	MaxThreads                 uint8
}

// DefaultLimits are the device's bounds: 8 to 256 MiB, at most 10 passes
// and 4 lanes.
var DefaultLimits = Limits{MinMemoryKiB: 8 << 10, MaxMemoryKiB: 256 << 10, MaxTime: 10, MaxThreads: 4}

// Header is the archive's clear-text header: what the archive is and how
// its key is made. It is authenticated with the payload.
type Header struct {
	Format int `json:"format"`
	// SoftwareVersion is the version of the software that made the
	// backup; a newer one than the running software is refused.
	SoftwareVersion string `json:"software_version"`
	// Serial is the UDI serial of the device backed up: a restore onto
	// another serial does not restore the registration.
	Serial  string    `json:"serial"`
	Created time.Time `json:"created"`
	KDF     KDF       `json:"kdf"`
	Cipher  string    `json:"cipher"`
	Nonce   []byte    `json:"nonce"`
	// KeyCheck is SHA-256 of the second half of the derived key.
	KeyCheck []byte `json:"key_check"`
	// SealedSize is the length of the sealed payload, tag included: an
	// archive that is shorter was truncated.
	SealedSize int64 `json:"sealed_size"`
}

const cipherName = "AES-256-GCM"

// File is one file of the backup, by its path below the device root.
type File struct {
	Path string `json:"path"`
	Mode uint32 `json:"mode"`
	Data []byte `json:"data"`
}

type payload struct {
	Files []File `json:"files"`
}

// Errors of Open, one per reason an archive is refused.
var (
	ErrNotBackup     = errors.New("not a vxway backup archive")
	ErrTruncated     = errors.New("the backup archive is truncated")
	ErrWrongPassword = errors.New("wrong backup password")
	ErrTampered      = errors.New("the backup archive was changed or damaged after it was made")
	ErrTooCostly     = errors.New("the backup archive asks for key derivation parameters outside the device's bounds")
	ErrUnsupported   = errors.New("unsupported backup archive")
)

// Seal encrypts files into an archive. h gives the software version,
// serial, time and KDF; the rest of the header is filled here.
func Seal(h Header, files []File, password string) ([]byte, error) {
	if password == "" {
		return nil, errors.New("the backup password is empty; give one with Password: \"...\"")
	}
	if err := checkFiles(files); err != nil {
		return nil, err
	}
	h.Format, h.Cipher = Format, cipherName
	h.KDF.Salt = make([]byte, 16)
	h.Nonce = make([]byte, 12)
	if _, err := io.ReadFull(rand.Reader, h.KDF.Salt); err != nil {
		return nil, fmt.Errorf("reading random salt: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, h.Nonce); err != nil {
		return nil, fmt.Errorf("reading random nonce: %w", err)
	}
	plain, err := json.Marshal(payload{Files: files})
	if err != nil {
		return nil, fmt.Errorf("encoding the backup: %w", err)
	}
	key, check := deriveKey(password, h.KDF)
	h.KeyCheck = check
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	h.SealedSize = int64(len(plain) + aead.Overhead())
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encoding the backup header: %w", err)
	}
	if len(hb) > MaxHeader {
		return nil, fmt.Errorf("the backup header is %d bytes, more than %d", len(hb), MaxHeader)
	}
	var out bytes.Buffer
	out.WriteString(magic)
	binary.Write(&out, binary.BigEndian, uint32(len(hb)))
	out.Write(hb)
	ad := bytes.Clone(out.Bytes())
	out.Write(aead.Seal(nil, h.Nonce, plain, ad))
	if out.Len() > MaxArchive {
		return nil, fmt.Errorf("the backup is %d bytes, more than the %d a restore accepts", out.Len(), MaxArchive)
	}
	return out.Bytes(), nil
}

func deriveKey(password string, k KDF) (key, check []byte) {
	out := argon2.IDKey([]byte(password), k.Salt, k.Time, k.MemoryKiB, k.Threads, 64)
	sum := sha256.Sum256(out[32:])
	return out[:32], sum[:]
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("making the cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("making the cipher: %w", err)
	}
	return aead, nil
}

// ReadHeader parses and checks the clear-text header of an archive,
// without the password. It reports the header and the length of the part
// the payload's authentication covers.
func ReadHeader(b []byte, lim Limits) (Header, int, error) {
	if len(b) < len(magic)+4 {
		if bytes.HasPrefix([]byte(magic), b) && len(b) > 0 {
			return Header{}, 0, fmt.Errorf("%w: %d bytes, not even a header", ErrTruncated, len(b))
		}
		return Header{}, 0, fmt.Errorf("%w: %d bytes", ErrNotBackup, len(b))
	}
	if string(b[:len(magic)]) != magic {
		return Header{}, 0, fmt.Errorf("%w: it does not start with %q", ErrNotBackup, magic)
	}
	if len(b) > MaxArchive {
		return Header{}, 0, fmt.Errorf("%w: %d bytes, more than %d", ErrUnsupported, len(b), MaxArchive)
	}
	n := binary.BigEndian.Uint32(b[len(magic):])
	if n > MaxHeader {
		return Header{}, 0, fmt.Errorf("%w: header of %d bytes, more than %d", ErrTampered, n, MaxHeader)
	}
	end := len(magic) + 4 + int(n)
	if len(b) < end {
		return Header{}, 0, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(b), end)
	}
	var h Header
	dec := json.NewDecoder(bytes.NewReader(b[len(magic)+4 : end]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Header{}, 0, fmt.Errorf("%w: header: %v", ErrTampered, err)
	}
	if h.Format != Format {
		return Header{}, 0, fmt.Errorf("%w: format %d; this software reads format %d (a newer software version made it?)", ErrUnsupported, h.Format, Format)
	}
	if h.Cipher != cipherName || h.KDF.Name != "argon2id" {
		return Header{}, 0, fmt.Errorf("%w: cipher %q with key derivation %q; this software reads %s with argon2id", ErrUnsupported, h.Cipher, h.KDF.Name, cipherName)
	}
	k := h.KDF
	if k.Time < 1 || k.Time > lim.MaxTime || k.MemoryKiB < lim.MinMemoryKiB || k.MemoryKiB > lim.MaxMemoryKiB ||
		k.Threads < 1 || k.Threads > lim.MaxThreads || k.MemoryKiB < 8*uint32(k.Threads) {
		return Header{}, 0, fmt.Errorf("%w: %d passes, %d KiB, %d lanes; the bounds are 1 to %d passes, %d to %d KiB, 1 to %d lanes",
			ErrTooCostly, k.Time, k.MemoryKiB, k.Threads, lim.MaxTime, lim.MinMemoryKiB, lim.MaxMemoryKiB, lim.MaxThreads)
	}
	if len(k.Salt) < 16 || len(k.Salt) > 64 || len(h.Nonce) != 12 || len(h.KeyCheck) != sha256.Size {
		return Header{}, 0, fmt.Errorf("%w: salt, nonce or key check of the wrong length", ErrTampered)
	}
	if h.SealedSize < 16 || h.SealedSize > MaxArchive {
		return Header{}, 0, fmt.Errorf("%w: sealed size %d", ErrTampered, h.SealedSize)
	}
	have := int64(len(b) - end)
	switch {
	case have < h.SealedSize:
		return Header{}, 0, fmt.Errorf("%w: %d bytes, the header says %d", ErrTruncated, len(b), int64(end)+h.SealedSize)
	case have > h.SealedSize:
		return Header{}, 0, fmt.Errorf("%w: %d bytes after the end the header gives", ErrTampered, have-h.SealedSize)
	}
	return h, end, nil
}

// Open checks and decrypts an archive: header, password, integrity, and
// the list of files (each path once, below data/, no more than MaxFiles).
// Each refusal is one of the errors above.
func Open(b []byte, password string, lim Limits) (Header, []File, error) {
	h, end, err := ReadHeader(b, lim)
	if err != nil {
		return Header{}, nil, err
	}
	key, check := deriveKey(password, h.KDF)
	if subtle.ConstantTimeCompare(check, h.KeyCheck) != 1 {
		return Header{}, nil, fmt.Errorf("%w: the archive was made with another password", ErrWrongPassword)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return Header{}, nil, err
	}
	plain, err := aead.Open(nil, h.Nonce, b[end:], b[:end])
	if err != nil {
		return Header{}, nil, fmt.Errorf("%w: its authentication tag does not match", ErrTampered)
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Header{}, nil, fmt.Errorf("%w: content: %v", ErrUnsupported, err)
	}
	if err := checkFiles(p.Files); err != nil {
		return Header{}, nil, err
	}
	return h, p.Files, nil
}

// checkFiles refuses paths that are not clean, relative and below data/,
// repeated paths and too many files.
func checkFiles(files []File) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("%w: %d files, more than %d", ErrUnsupported, len(files), MaxFiles)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if f.Path == "" || path.Clean(f.Path) != f.Path || !strings.HasPrefix(f.Path, "data/") || strings.Contains(f.Path, "\\") {
			return fmt.Errorf("%w: file path %q is not a clean path below data/", ErrUnsupported, f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("%w: file %s appears twice", ErrUnsupported, f.Path)
		}
		seen[f.Path] = true
		if f.Mode&^0o777 != 0 {
			return fmt.Errorf("%w: file %s has mode %o; only permission bits are kept", ErrUnsupported, f.Path, f.Mode)
		}
	}
	return nil
}
