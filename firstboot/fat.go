package firstboot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// errFAT marks a volume that is not a FAT filesystem this reader follows.
var errFAT = errors.New("not a readable FAT volume")

// fatVolume is the geometry of a FAT12/16/32 volume, from its boot sector.
type fatVolume struct {
	r            io.ReaderAt
	bytesPerSec  int64
	secPerClus   int64
	fatStart     int64 // byte offset of the first FAT
	rootStart    int64 // byte offset of the FAT12/16 root directory
	rootEntries  int64
	dataStart    int64 // byte offset of cluster 2
	clusters     int64 // number of data clusters
	bits         int   // 12, 16 or 32
	rootCluster  uint32
	clusterBytes int64
}

func openFAT(r io.ReaderAt) (*fatVolume, error) {
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return nil, fmt.Errorf("%w: reading the boot sector: %v", errFAT, err)
	}
	le := binary.LittleEndian
	v := &fatVolume{r: r}
	v.bytesPerSec = int64(le.Uint16(bs[11:]))
	v.secPerClus = int64(bs[13])
	reserved := int64(le.Uint16(bs[14:]))
	nfats := int64(bs[16])
	v.rootEntries = int64(le.Uint16(bs[17:]))
	total := int64(le.Uint16(bs[19:]))
	if total == 0 {
		total = int64(le.Uint32(bs[32:]))
	}
	fatSize := int64(le.Uint16(bs[22:]))
	if fatSize == 0 {
		fatSize = int64(le.Uint32(bs[36:]))
		v.rootCluster = le.Uint32(bs[44:])
	}
	switch v.bytesPerSec {
	case 512, 1024, 2048, 4096:
	default:
		return nil, fmt.Errorf("%w: %d bytes per sector", errFAT, v.bytesPerSec)
	}
	if v.secPerClus == 0 || v.secPerClus&(v.secPerClus-1) != 0 || nfats == 0 || fatSize == 0 || reserved == 0 {
		return nil, fmt.Errorf("%w: inconsistent boot sector", errFAT)
	}
	rootSecs := (v.rootEntries*32 + v.bytesPerSec - 1) / v.bytesPerSec
	dataSec := reserved + nfats*fatSize + rootSecs
	if total <= dataSec {
		return nil, fmt.Errorf("%w: no data area", errFAT)
	}
	v.clusters = (total - dataSec) / v.secPerClus
	switch {
	case v.rootEntries == 0:
		v.bits = 32
	case v.clusters < 4085:
		v.bits = 12
	default:
		v.bits = 16
	}
	v.fatStart = reserved * v.bytesPerSec
	v.rootStart = (reserved + nfats*fatSize) * v.bytesPerSec
	v.dataStart = dataSec * v.bytesPerSec
	v.clusterBytes = v.secPerClus * v.bytesPerSec
	return v, nil
}

// next reads the FAT entry of cluster c: the next cluster of the chain,
// or ok false at its end (or on a bad entry).
func (v *fatVolume) next(c uint32) (uint32, bool, error) {
	var n uint32
	switch v.bits {
	case 12:
		b := make([]byte, 2)
		if _, err := v.r.ReadAt(b, v.fatStart+int64(c)+int64(c)/2); err != nil {
			return 0, false, err
		}
		x := uint32(binary.LittleEndian.Uint16(b))
		if c%2 == 1 {
			n = x >> 4
		} else {
			n = x & 0xfff
		}
		if n >= 0xff7 {
			return 0, false, nil
		}
	case 16:
		b := make([]byte, 2)
		if _, err := v.r.ReadAt(b, v.fatStart+int64(c)*2); err != nil {
			return 0, false, err
		}
		n = uint32(binary.LittleEndian.Uint16(b))
		if n >= 0xfff7 {
			return 0, false, nil
		}
	default:
		b := make([]byte, 4)
		if _, err := v.r.ReadAt(b, v.fatStart+int64(c)*4); err != nil {
			return 0, false, err
		}
		n = binary.LittleEndian.Uint32(b) & 0x0fffffff
		if n >= 0x0ffffff7 {
			return 0, false, nil
		}
	}
	if n < 2 || int64(n) >= v.clusters+2 {
		return 0, false, nil
	}
	return n, true, nil
}

// chain reads up to limit bytes of the cluster chain starting at first.
func (v *fatVolume) chain(first uint32, limit int64) ([]byte, error) {
	var out []byte
	c, ok := first, first >= 2 && int64(first) < v.clusters+2
	for steps := int64(0); ok && int64(len(out)) < limit; steps++ {
		if steps > v.clusters {
			return nil, fmt.Errorf("%w: a cluster chain loops", errFAT)
		}
		buf := make([]byte, v.clusterBytes)
		if _, err := v.r.ReadAt(buf, v.dataStart+int64(c-2)*v.clusterBytes); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading cluster %d: %w", c, err)
		}
		out = append(out, buf...)
		var err error
		if c, ok, err = v.next(c); err != nil {
			return nil, fmt.Errorf("reading the FAT: %w", err)
		}
	}
	if int64(len(out)) > limit {
		out = out[:limit]
	}
	return out, nil
}

// maxDirEntries caps the root directory entries read and scanned: a seed
// disk's root holds a handful, mkfs.vfat makes 512 on FAT12/16, and a
// crafted volume may claim 65,535 (FAT16) or a cluster chain of any length
// (FAT32).
const maxDirEntries = 16384

// maxLFNEntries is the most long-name entries one name has (VFAT: 255
// characters, 13 to an entry).
const maxLFNEntries = 20

// rootDir returns the root directory's entries (32 bytes each), at most
// maxDirEntries of them.
func (v *fatVolume) rootDir() ([]byte, error) {
	if v.bits == 32 {
		return v.chain(v.rootCluster, maxDirEntries*32)
	}
	buf := make([]byte, min(v.rootEntries, maxDirEntries)*32)
	if _, err := v.r.ReadAt(buf, v.rootStart); err != nil {
		return nil, fmt.Errorf("reading the root directory: %w", err)
	}
	return buf, nil
}

// longName gathers the long-name entries in front of a short entry. They
// come last part first, numbered down to 1, the first of them flagged 0x40;
// each part goes straight to its place, so a name costs its own length
// and no more, whatever the directory holds. A sequence out of order, or
// longer than VFAT allows, is dropped and the short name counts alone.
type longName struct {
	buf    [maxLFNEntries * 13]uint16
	parts  int // parts of the name being gathered; 0: none
	expect int // number of the next part expected; 0: complete
}

func (n *longName) reset() { n.parts, n.expect = 0, 0 }

// add takes one long-name entry.
func (n *longName) add(e []byte) {
	seq := int(e[0] & 0x1f)
	if e[0]&0x40 != 0 {
		n.parts, n.expect = seq, seq
		if seq == 0 || seq > maxLFNEntries {
			n.reset()
			return
		}
	}
	if n.parts == 0 || seq == 0 || seq != n.expect {
		n.reset()
		return
	}
	at := (seq - 1) * 13
	for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
		for i := r[0]; i < r[1]; i += 2 {
			n.buf[at] = binary.LittleEndian.Uint16(e[i:])
			at++
		}
	}
	n.expect--
}

// take returns the long name gathered for the short entry that follows,
// "" when there is none, and starts over.
func (n *longName) take() string {
	defer n.reset()
	if n.parts == 0 || n.expect != 0 {
		return ""
	}
	u := n.buf[:n.parts*13]
	for i, c := range u {
		if c == 0 || c == 0xffff {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

// shortName renders an 8.3 directory entry name as "NAME.EXT".
func shortName(e []byte) string {
	base := strings.TrimRight(string(e[0:8]), " ")
	ext := strings.TrimRight(string(e[8:11]), " ")
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// readFile returns the content of the file name (case-insensitive, long
// or short name) in the root directory, at most limit bytes; a file
// larger than limit is an error.
func (v *fatVolume) readFile(name string, limit int64) ([]byte, error) {
	dir, err := v.rootDir()
	if err != nil {
		return nil, err
	}
	var lfn longName
	for off := 0; off+32 <= len(dir); off += 32 {
		e := dir[off : off+32]
		switch {
		case e[0] == 0:
			return nil, fmt.Errorf("no %s in the root directory: %w", name, errNoFile)
		case e[0] == 0xe5:
			lfn.reset()
			continue
		case e[11] == 0x0f: // a long-name part
			lfn.add(e)
			continue
		case e[11]&0x18 != 0: // volume label or directory
			lfn.reset()
			continue
		}
		long := lfn.take()
		if !strings.EqualFold(long, name) && !strings.EqualFold(shortName(e), name) {
			continue
		}
		size := int64(binary.LittleEndian.Uint32(e[28:]))
		if size > limit {
			return nil, fmt.Errorf("%s is %d bytes; at most %d are allowed", name, size, limit)
		}
		first := uint32(binary.LittleEndian.Uint16(e[26:]))
		if v.bits == 32 {
			first |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
		}
		if size == 0 {
			return []byte{}, nil
		}
		b, err := v.chain(first, size)
		if err != nil {
			return nil, err
		}
		if int64(len(b)) < size {
			return nil, fmt.Errorf("%w: %s is cut short (%d of %d bytes)", errFAT, name, len(b), size)
		}
		return b, nil
	}
	if len(dir) == maxDirEntries*32 {
		return nil, fmt.Errorf("no %s in the first %d entries of the root directory (a seed disk holds a few): %w", name, maxDirEntries, errNoFile)
	}
	return nil, fmt.Errorf("no %s in the root directory: %w", name, errNoFile)
}

var errNoFile = errors.New("file not found")
