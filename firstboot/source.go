package firstboot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
)

// Source is where a seed comes from. Read returns ErrNoSeed when the
// source holds none.
type Source interface {
	// Name says where the seed was found, for the console and
	// `xstatus Provisioning`.
	Name() string
	Read(ctx context.Context) ([]byte, error)
}

// ErrNoSeed marks a source without a seed.
var ErrNoSeed = errors.New("no provisioning seed")

// SeedLabel is the FAT volume label of a seed disk.
const SeedLabel = "VXPROV"

// seedDiskBytes is the size of a seed disk: the smallest FAT32 that every
// reader (mtools, fsck.vfat, other hypervisors' guests) accepts. The image
// file is sparse, so it takes well under 1 MiB.
const seedDiskBytes = 40 << 20

// WriteSeedDisk writes a raw disk image at path: a FAT32 filesystem
// labelled VXPROV, without a partition table, holding seed as
// provision.toml. It does not check the seed (call Parse for that), so
// that a bad seed can be built on purpose. The image is built next to path
// and renamed into place, so path never holds half an image.
// SOURCE_DATE_EPOCH fixes its timestamps.
func WriteSeedDisk(path string, seed []byte) (err error) {
	if len(seed) > MaxSeedBytes {
		return fmt.Errorf("writing %s: the seed is %d bytes; at most %d are allowed", path, len(seed), MaxSeedBytes)
	}
	dir := filepath.Dir(path)
	tmpf, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	os.Remove(tmp) // go-diskfs creates the file itself
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	d, err := diskfs.Create(tmp, seedDiskBytes, diskfs.SectorSizeDefault)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeFat32, VolumeLabel: SeedLabel, Reproducible: true})
	if err != nil {
		return fmt.Errorf("making the FAT filesystem in %s: %w", tmp, err)
	}
	f, err := fs.OpenFile("/"+SeedFile, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("creating %s in %s: %w", SeedFile, tmp, err)
	}
	if _, err := f.Write(seed); err != nil {
		return fmt.Errorf("writing %s in %s: %w", SeedFile, tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s in %s: %w", SeedFile, tmp, err)
	}
	closed = true
	if err := d.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// fatLabel reads the volume label from a FAT boot sector (FAT32 keeps it
// at offset 71, FAT12/16 at 43, each after an extended boot signature).
func fatLabel(sector []byte) (string, bool) {
	if len(sector) < 512 || sector[510] != 0x55 || sector[511] != 0xAA {
		return "", false
	}
	fat32 := sector[22] == 0 && sector[23] == 0 // no 16-bit FAT size
	sig, at := 38, 43
	if fat32 {
		sig, at = 66, 71
	}
	if sector[sig] != 0x29 {
		return "", false
	}
	fsType := string(sector[at+11 : at+19])
	if !strings.HasPrefix(fsType, "FAT") {
		return "", false
	}
	return strings.TrimRight(string(sector[at:at+11]), " \x00"), true
}

// DiskSource finds the seed on a block device whose FAT label is VXPROV:
// every device in sys/class/block under Root is opened as dev/<name> and
// its boot sector read; the first match is read with a small FAT12/16/32
// reader in user space, so nothing is mounted.
type DiskSource struct {
	Root  string
	found string
}

// Name reports the source, with the device once one was found.
func (s *DiskSource) Name() string {
	if s.found != "" {
		return "VXPROV disk " + s.found
	}
	return "VXPROV disk"
}

// Read returns provision.toml from the seed disk, or ErrNoSeed.
func (s *DiskSource) Read(ctx context.Context) ([]byte, error) {
	entries, err := os.ReadDir(filepath.Join(s.Root, "sys/class/block"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoSeed
	}
	if err != nil {
		return nil, fmt.Errorf("listing block devices: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dev := filepath.Join(s.Root, "dev", n)
		if !hasSeedLabel(dev) {
			continue
		}
		s.found = "/dev/" + n
		return readSeedFile(dev)
	}
	return nil, ErrNoSeed
}

func hasSeedLabel(dev string) bool {
	f, err := os.Open(dev)
	if err != nil {
		return false
	}
	defer f.Close()
	sector := make([]byte, 512)
	if _, err := io.ReadFull(f, sector); err != nil {
		return false
	}
	label, ok := fatLabel(sector)
	return ok && strings.EqualFold(label, SeedLabel)
}

// ReadSeedDisk reads provision.toml from a seed disk or image file.
func ReadSeedDisk(path string) ([]byte, error) {
	if !hasSeedLabel(path) {
		return nil, fmt.Errorf("reading %s: not a FAT volume labelled %s", path, SeedLabel)
	}
	return readSeedFile(path)
}

func readSeedFile(dev string) ([]byte, error) {
	f, err := os.Open(dev)
	if err != nil {
		return nil, fmt.Errorf("opening the seed disk %s: %w", dev, err)
	}
	defer f.Close()
	v, err := openFAT(f)
	if err != nil {
		return nil, fmt.Errorf("reading the seed disk %s: %w", dev, err)
	}
	b, err := v.readFile(SeedFile, MaxSeedBytes)
	if errors.Is(err, errNoFile) {
		return nil, fmt.Errorf("the seed disk %s has no %s (put the file at the top of the disk)", dev, SeedFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", SeedFile, dev, err)
	}
	return b, nil
}
