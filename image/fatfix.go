package image

import (
	"encoding/binary"
	"fmt"
	"os"
)

// fixFAT32 corrects two details the go-diskfs FAT32 writer gets wrong, so
// that fsck.vfat accepts the ESP: the ".." entry of a directory in the root
// must name cluster 0 (go-diskfs writes the root's cluster), and the FSInfo
// sector must carry the free cluster count and the next free cluster (go-diskfs
// leaves them "unknown"). start is the byte offset of the filesystem in f.
func fixFAT32(f *os.File, start int64) error {
	bs := make([]byte, 512)
	if _, err := f.ReadAt(bs, start); err != nil {
		return fmt.Errorf("reading the ESP boot sector: %w", err)
	}
	le := binary.LittleEndian
	bps := int64(le.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(le.Uint16(bs[14:]))
	nfats := int64(bs[16])
	total := int64(le.Uint32(bs[32:]))
	spf := int64(le.Uint32(bs[36:]))
	rootCluster := le.Uint32(bs[44:])
	fsinfo := int64(le.Uint16(bs[48:]))
	backup := int64(le.Uint16(bs[50:]))
	if bps != 512 || spc == 0 || spf == 0 || string(bs[82:87]) != "FAT32" {
		return fmt.Errorf("the ESP is not the FAT32 layout this build writes")
	}
	fat := make([]byte, spf*bps)
	if _, err := f.ReadAt(fat, start+reserved*bps); err != nil {
		return fmt.Errorf("reading the FAT: %w", err)
	}
	clusters := (total - reserved - nfats*spf) / spc
	entry := func(c uint32) uint32 { return le.Uint32(fat[4*int64(c):]) & 0x0fffffff }
	clusterOff := func(c uint32) int64 {
		return start + (reserved+nfats*spf)*bps + (int64(c)-2)*spc*bps
	}

	// Directories in the root: point their ".." at cluster 0.
	csize := spc * bps
	buf := make([]byte, csize)
	for c := rootCluster; c >= 2 && c < 0x0ffffff8; c = entry(c) {
		if _, err := f.ReadAt(buf, clusterOff(c)); err != nil {
			return fmt.Errorf("reading the root directory: %w", err)
		}
		for off := int64(0); off < csize; off += 32 {
			e := buf[off : off+32]
			if e[0] == 0 {
				break
			}
			if e[0] == 0xe5 || e[11] == 0x0f || e[11]&0x10 == 0 || e[0] == '.' {
				continue
			}
			sub := uint32(le.Uint16(e[20:]))<<16 | uint32(le.Uint16(e[26:]))
			if sub < 2 {
				continue
			}
			dotdot := make([]byte, 32)
			if _, err := f.ReadAt(dotdot, clusterOff(sub)+32); err != nil {
				return fmt.Errorf("reading a directory: %w", err)
			}
			if string(dotdot[:11]) != "..         " {
				continue
			}
			le.PutUint16(dotdot[20:], 0)
			le.PutUint16(dotdot[26:], 0)
			if _, err := f.WriteAt(dotdot, clusterOff(sub)+32); err != nil {
				return fmt.Errorf("writing a directory: %w", err)
			}
		}
	}

	// FSInfo: free count and next free cluster, in the sector and its backup.
	var free, next uint32
	for c := uint32(2); int64(c) < clusters+2; c++ {
		if entry(c) == 0 {
			if next == 0 {
				next = c
			}
			free++
		}
	}
	for _, sector := range []int64{fsinfo, backup + fsinfo} {
		fi := make([]byte, 512)
		if _, err := f.ReadAt(fi, start+sector*bps); err != nil {
			return fmt.Errorf("reading FSInfo: %w", err)
		}
		if le.Uint32(fi[0:]) != 0x41615252 {
			return fmt.Errorf("FSInfo sector %d has no signature", sector)
		}
		le.PutUint32(fi[488:], free)
		le.PutUint32(fi[492:], next)
		if _, err := f.WriteAt(fi, start+sector*bps); err != nil {
			return fmt.Errorf("writing FSInfo: %w", err)
		}
	}
	return nil
}
