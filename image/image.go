// Package image builds and inspects the vxway disk image: a raw GPT disk
// with an ESP (FAT32: systemd-boot, Boot Loader Specification entries, the
// kernel and the initramfs of each system slot), then the persist and data
// ext4 partitions.
//
// The image is reproducible: GUIDs and filesystem UUIDs derive from the
// build seed, every timestamp is the build time, and ext4 is made by
// Debian's mke2fs with a fixed UUID, hash seed and E2FSPROGS_FAKE_TIME (the
// ext4 writer of go-diskfs is not reproducible).
package image

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// Partition names (GPT) in disk order. The device finds its partitions by
// these names.
const (
	PartESP     = "ESP"
	PartPersist = "persist"
	PartData    = "data"
)

// Layout is the disk geometry of an image, in bytes.
type Layout struct {
	Size        int64
	ESPStart    int64
	ESPSize     int64
	PersistSize int64
	DataSize    int64
}

const (
	mib        = 1 << 20
	sectorSize = 512
)

// NewLayout places the partitions at 1 MiB boundaries: ESP, persist, then
// data up to the last MiB (which keeps the backup GPT).
func NewLayout(sizeMiB, espMiB, persistMiB int) (Layout, error) {
	l := Layout{
		Size:        int64(sizeMiB) * mib,
		ESPStart:    mib,
		ESPSize:     int64(espMiB) * mib,
		PersistSize: int64(persistMiB) * mib,
	}
	l.DataSize = l.Size - mib - l.ESPSize - l.PersistSize - mib
	if l.DataSize < 16*mib {
		return Layout{}, fmt.Errorf("image of %d MiB leaves %d MiB for data: raise image.size_mib to at least %d", sizeMiB, l.DataSize/mib, espMiB+persistMiB+18)
	}
	return l, nil
}

// ESPPartSize is the size of the ESP partition: ESPSize less up to two
// sectors. go-diskfs sizes the FAT one entry short when the sectors after
// the 32 reserved ones are 0 or 129 modulo 130 (at 512-byte clusters), which
// fsck.vfat rejects; the unused sectors avoid those sizes and keep the next
// partition MiB-aligned.
func (l Layout) ESPPartSize() int64 {
	for gap := int64(0); ; gap++ {
		n := l.ESPSize/sectorSize - gap - 32
		if m := n % 130; m != 0 && m != 129 {
			return l.ESPSize - gap*sectorSize
		}
	}
}

// PersistStart is the byte offset of the persist partition.
func (l Layout) PersistStart() int64 { return l.ESPStart + l.ESPSize }

// DataStart is the byte offset of the data partition.
func (l Layout) DataStart() int64 { return l.PersistStart() + l.PersistSize }

// GUID derives a stable GUID (RFC 4122 version 4 layout) from the seed and
// a purpose, e.g. "disk" or "part:data".
func GUID(seed, purpose string) string {
	sum := sha256.Sum256([]byte("vxway guid\x00" + seed + "\x00" + purpose))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
