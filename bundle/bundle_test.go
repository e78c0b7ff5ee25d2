package bundle

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// testKey is a fixed key so that bundles are comparable across runs.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func sources(kernel, initrd string) []Source {
	src := func(name, data string) Source {
		return Source{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }}
	}
	return []Source{src(PartKernel, kernel), src(PartInitramfs, initrd)}
}

func testManifest() Manifest {
	return Manifest{Product: "vxway", Version: "X14.3.0-vxway", BuildEpoch: 1767225600, Cmdline: "console=ttyS0 quiet"}
}

func makeBundle(t testing.TB, key ed25519.PrivateKey, m Manifest) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(&buf, key, m, sources("KERNEL-BYTES", "INITRAMFS-BYTES-0123456789")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteOpenVerify(t *testing.T) {
	key := testKey(1)
	b := makeBundle(t, key, testManifest())
	if again := makeBundle(t, key, testManifest()); !bytes.Equal(b, again) {
		t.Error("two bundles of the same inputs and key differ: not reproducible")
	}
	got, err := Open(bytes.NewReader(b), int64(len(b)), []ed25519.PublicKey{testKey(2).Public().(ed25519.PublicKey), key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Version != "X14.3.0-vxway" || got.KeyID != KeyID(key.Public().(ed25519.PublicKey)) {
		t.Errorf("manifest %+v key %s", got.Manifest, got.KeyID)
	}
	r, err := got.Reader(PartInitramfs)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	if string(data) != "INITRAMFS-BYTES-0123456789" {
		t.Errorf("initramfs part = %q", data)
	}
}

// TestRefusals: every way a bundle can be wrong is reported with its own
// error before any part is used.
func TestRefusals(t *testing.T) {
	key := testKey(1)
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	good := makeBundle(t, key, testManifest())
	mlen := int(binary.BigEndian.Uint32(good[8:12]))
	manifestAt := 12
	partsAt := manifestAt + mlen + keyIDLen + sigLen
	edit := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	otherKey := makeBundle(t, testKey(3), testManifest())
	for _, tt := range []struct {
		name    string
		b       []byte
		want    error
		atOpen  bool
		message string
	}{
		{"empty", nil, ErrNotBundle, true, "shorter than a bundle header"},
		{"not a bundle", []byte("PK\x03\x04 a zip file, not a bundle"), ErrNotBundle, true, "does not start with"},
		{"unknown key", otherKey, ErrUnknownKey, true, "signed by key " + KeyID(testKey(3).Public().(ed25519.PublicKey))},
		{"manifest altered", edit(func(b []byte) []byte {
			i := bytes.Index(b, []byte("X14.3.0"))
			b[i+4] = '9'
			return b
		}), ErrBadSignature, true, "did not sign this manifest"},
		{"signature altered", edit(func(b []byte) []byte { b[partsAt-1] ^= 1; return b }), ErrBadSignature, true, "altered or damaged"},
		{"truncated in the header", good[:manifestAt+10], ErrTruncated, true, "the header alone needs"},
		{"truncated in the parts", good[:len(good)-3], ErrTruncated, true, "the manifest promises"},
		{"extra bytes", append(append([]byte(nil), good...), "trailing"...), ErrOversized, true, "8 extra bytes"},
		{"huge manifest length", edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:12], MaxManifest+1); return b }), ErrBadManifest, true, "manifest length"},
		{"part altered", edit(func(b []byte) []byte { b[partsAt] ^= 0x20; return b }), ErrHashMismatch, false, "part vmlinuz has sha256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bn, err := Open(bytes.NewReader(tt.b), int64(len(tt.b)), trusted)
			if !tt.atOpen {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				err = bn.Verify()
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %v, want %v with %q", err, tt.want, tt.message)
			}
		})
	}
	t.Run("oversized", func(t *testing.T) {
		_, err := Open(bytes.NewReader(good), MaxSize+MaxManifest+1000, trusted)
		if !errors.Is(err, ErrOversized) {
			t.Errorf("err = %v, want ErrOversized", err)
		}
	})
	t.Run("no trusted key", func(t *testing.T) {
		_, err := Open(bytes.NewReader(good), int64(len(good)), nil)
		if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "trusted keys: none") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestManifestCheck(t *testing.T) {
	h := strings.Repeat("ab", 32)
	good := func() Manifest {
		m := testManifest()
		m.Format = FormatVersion
		m.Parts = []Part{{PartKernel, 10, h}, {PartInitramfs, 20, h}}
		return m
	}
	for _, tt := range []struct {
		name string
		edit func(*Manifest)
		want string
	}{
		{"format", func(m *Manifest) { m.Format = 2 }, "format 2"},
		{"product", func(m *Manifest) { m.Product = "two words" }, "product"},
		{"version", func(m *Manifest) { m.Version = "" }, "version"},
		{"cmdline without console", func(m *Manifest) { m.Cmdline = "quiet" }, "console=ttyS0"},
		{"cmdline two lines", func(m *Manifest) { m.Cmdline = "console=ttyS0\ninit=/x" }, "one line"},
		{"missing part", func(m *Manifest) { m.Parts = m.Parts[:1] }, "1 parts"},
		{"parts swapped", func(m *Manifest) { m.Parts[0], m.Parts[1] = m.Parts[1], m.Parts[0] }, "want \"vmlinuz\""},
		{"negative size", func(m *Manifest) { m.Parts[0].Size = -1 }, "size -1"},
		{"bad hash", func(m *Manifest) { m.Parts[1].SHA256 = "XYZ" }, "64 lower-case hex"},
		{"too big", func(m *Manifest) { m.Parts[0].Size, m.Parts[1].Size = MaxSize, MaxSize }, "add up to"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			tt.edit(&m)
			err := m.Check()
			if !errors.Is(err, ErrBadManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrBadManifest with %q", err, tt.want)
			}
		})
	}
	m := good()
	raw, _ := m.Marshal()
	if _, err := ParseManifest(raw); err != nil {
		t.Errorf("a good manifest: %v", err)
	}
	for _, bad := range []string{`{"format":1,"extra":1}`, string(raw) + `{}`, `[1]`} {
		if _, err := ParseManifest([]byte(bad)); !errors.Is(err, ErrBadManifest) {
			t.Errorf("ParseManifest(%q) = %v, want ErrBadManifest", bad, err)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	m := testManifest()
	var buf bytes.Buffer
	got, err := Write(&buf, testKey(1), m, sources("k", "i"))
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := got.Marshal()
	f.Add(raw)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error %v is not ErrBadManifest", err)
			}
			return
		}
		// What parses must check and encode to something that parses the same.
		if err := m.Check(); err != nil {
			t.Fatalf("parsed but Check fails: %v", err)
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(again)
		if err != nil || m2.Version != m.Version || len(m2.Parts) != len(m.Parts) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	key := testKey(1)
	f.Add(makeBundle(f, key, testManifest()))
	f.Add([]byte(Magic + "\x00\x00\x00\x02{}"))
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	f.Fuzz(func(t *testing.T, b []byte) {
		bn, err := Open(bytes.NewReader(b), int64(len(b)), trusted)
		if err != nil {
			return
		}
		_ = bn.Verify()
	})
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"X14.2.0-vxway", "X14.2.0-vxway", 0},
		{"X14.2.0-vxway", "X14.3.0-vxway", -1},
		{"X14.10.0-vxway", "X14.9.0-vxway", 1},
		{"X14.2", "X14.2.1", -1},
		{"X14.02", "X14.2", 0},
		{"X15", "X14.9", 1},
	} {
		t.Run(tt.a+"_"+tt.b, func(t *testing.T) {
			if got := CompareVersions(tt.a, tt.b); got != tt.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := CompareVersions(tt.b, tt.a); got != -tt.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

func TestKeysPEM(t *testing.T) {
	k := testKey(7)
	priv, err := MarshalPrivatePEM(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := MarshalPublicPEM(k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivatePEM(priv)
	if err != nil || !k2.Equal(k) {
		t.Fatalf("private round trip: %v", err)
	}
	p2, err := ParsePublicPEM(pub)
	if err != nil || !p2.Equal(k.Public()) {
		t.Fatalf("public round trip: %v", err)
	}
	if _, err := ParsePrivatePEM(pub); !errors.Is(err, ErrBadKey) {
		t.Errorf("a public key as private: %v", err)
	}
	if _, err := ParsePublicPEM([]byte("junk")); !errors.Is(err, ErrBadKey) {
		t.Errorf("junk as public: %v", err)
	}
}
