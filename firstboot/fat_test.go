package firstboot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
	"unicode/utf16"
	"vxway/firstboot/seed"
)

// craftedFAT builds a FAT12 volume by hand, labelled VXPROV, whose root
// directory (rootEntries slots) holds the entries given, then
// provision.toml under its long name only (the 8.3 alias PROVIS~1.TOM does
// not match), with content in cluster 2.
func craftedFAT(t testing.TB, rootEntries int, entries [][]byte, content []byte) []byte {
	t.Helper()
	const sec = 512
	rootSecs := (rootEntries*32 + sec - 1) / sec
	total := 1 + 1 + rootSecs + 8 // boot sector, one FAT sector, root, 8 clusters
	img := make([]byte, total*sec)
	le := binary.LittleEndian
	bs := img[:sec]
	bs[0], bs[1], bs[2] = 0xeb, 0x3c, 0x90
	le.PutUint16(bs[11:], sec)
	bs[13] = 1               // sectors per cluster
	le.PutUint16(bs[14:], 1) // reserved sectors
	bs[16] = 1               // FATs
	le.PutUint16(bs[17:], uint16(rootEntries))
	le.PutUint16(bs[19:], uint16(total))
	le.PutUint16(bs[22:], 1) // sectors per FAT
	bs[38] = 0x29
	copy(bs[43:], "VXPROV     FAT12   ")
	bs[510], bs[511] = 0x55, 0xaa
	copy(img[sec:], []byte{0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00}) // cluster 2: end of chain
	name := utf16.Encode([]rune(seed.File))
	name = append(name, 0)
	for len(name)%13 != 0 {
		name = append(name, 0xffff)
	}
	parts := len(name) / 13
	for i := parts; i >= 1; i-- {
		seq := byte(i)
		if i == parts {
			seq |= 0x40
		}
		entries = append(entries, lfnEntry(seq, name[(i-1)*13:i*13]))
	}
	short := make([]byte, 32)
	copy(short, "PROVIS~1TOM")
	short[11] = 0x20
	le.PutUint16(short[26:], 2)
	le.PutUint32(short[28:], uint32(len(content)))
	entries = append(entries, short)
	if len(entries) > rootEntries {
		t.Fatalf("%d entries do not fit a root of %d", len(entries), rootEntries)
	}
	root := img[2*sec:]
	for i, e := range entries {
		copy(root[i*32:], e)
	}
	copy(img[(2+rootSecs)*sec:], content)
	return img
}

// lfnEntry is one long-name directory entry: sequence byte seq and 13
// UTF-16 units.
func lfnEntry(seq byte, units []uint16) []byte {
	e := make([]byte, 32)
	e[0], e[11] = seq, 0x0f
	at := 0
	for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
		for i := r[0]; i < r[1]; i += 2 {
			binary.LittleEndian.PutUint16(e[i:], units[at])
			at++
		}
	}
	return e
}

func repeated(n int, e []byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// allocated reports the bytes f allocates, a measure of its work that
// does not depend on the machine's speed.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestFATLongNamesLinear fills a root directory with long-name entries
// that never end in a file: reading the seed behind them costs about the
// directory's size, not its square (12 s of boot for a 4.5 MiB disk before
// this was bounded).
func TestFATLongNamesLinear(t *testing.T) {
	const n = 16000
	a := make([]uint16, 13)
	for i := range a {
		a[i] = 'A'
	}
	content := []byte("version = 1\ninstance_id = \"crafted\"\n")
	tests := []struct {
		name    string
		entries [][]byte
	}{
		{"parts without a first one", repeated(n, lfnEntry(0x01, a))},
		{"first parts only", repeated(n, lfnEntry(0x54, a))},
		{"names longer than VFAT allows", repeated(n, lfnEntry(0x40|0x1f, a))},
		{"parts counting down forever", func() [][]byte {
			var es [][]byte
			for i := range n {
				es = append(es, lfnEntry(byte(20-i%20), a))
			}
			return es
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := craftedFAT(t, 16368, tt.entries, content)
			v, err := openFAT(bytes.NewReader(img))
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			alloc := allocated(func() { got, err = v.readFile(seed.File, seed.MaxBytes) })
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("readFile = %q, %v", got, err)
			}
			// The directory itself is 512 KiB; a quadratic reader
			// allocates gigabytes here.
			if limit := uint64(4 << 20); alloc > limit {
				t.Errorf("reading the seed allocated %d bytes for a %d-entry directory, want at most %d", alloc, n, limit)
			}
		})
	}
}

// TestFATLongNameRules checks the long-name sequence rules on names that
// are well formed, broken, or too long.
func TestFATLongNameRules(t *testing.T) {
	content := []byte("version = 1\n")
	a := make([]uint16, 13)
	for i := range a {
		a[i] = 'a'
	}
	tests := []struct {
		name   string
		before [][]byte // entries right in front of provision.toml's own
		found  bool
	}{
		{"alone", nil, true},
		{"after a stray part", [][]byte{lfnEntry(0x03, a)}, true},
		{"after a deleted name", [][]byte{lfnEntry(0x41, a), {0xe5, 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'T', 'X', 'T', 0x20}}, true},
		// An unfinished name in front: the seed's first part (0x42) starts
		// over, so the name is still whole.
		{"after an unfinished name", [][]byte{lfnEntry(0x43, a)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := openFAT(bytes.NewReader(craftedFAT(t, 64, tt.before, content)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.readFile(seed.File, seed.MaxBytes)
			if tt.found != (err == nil) || (err == nil && !bytes.Equal(got, content)) {
				t.Fatalf("readFile = %q, %v; want found %v", got, err, tt.found)
			}
		})
	}
	// The parts of a name out of order, or a name of 21 parts, do not
	// make a long name: the file is then known by its 8.3 alias only.
	var n longName
	for _, seq := range []byte{0x42, 0x02} {
		n.add(lfnEntry(seq, a))
	}
	if got := n.take(); got != "" {
		t.Errorf("a repeated part gave the name %q", got)
	}
	n.add(lfnEntry(0x40|21, a))
	for seq := byte(20); seq >= 1; seq-- {
		n.add(lfnEntry(seq, a))
	}
	if got := n.take(); got != "" {
		t.Errorf("a 21-part name gave %q", got)
	}
	n.add(lfnEntry(0x40|20, a))
	for seq := byte(19); seq >= 1; seq-- {
		n.add(lfnEntry(seq, a))
	}
	if got := n.take(); got != strings.Repeat("a", 260) {
		t.Errorf("a 20-part name gave %d characters, want 260", len(got))
	}
}

// TestFATDirectoryCap puts the seed behind more entries than a seed
// disk's root directory ever holds: the reader stops at the cap and says
// so.
func TestFATDirectoryCap(t *testing.T) {
	junk := make([]byte, 32)
	copy(junk, "JUNK    TXT")
	junk[11] = 0x20
	v, err := openFAT(bytes.NewReader(craftedFAT(t, 65520, repeated(maxDirEntries+100, junk), []byte("version = 1\n"))))
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.readFile(seed.File, seed.MaxBytes)
	if !errors.Is(err, errNoFile) || !strings.Contains(err.Error(), "first 16384 entries") {
		t.Fatalf("readFile: %v; want no file within the first %d entries", err, maxDirEntries)
	}
}
