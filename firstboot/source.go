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

	"vxway/firstboot/seed"
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
	return ok && strings.EqualFold(label, seed.Label)
}

// ReadSeedDisk reads provision.toml from a seed disk or image file.
func ReadSeedDisk(path string) ([]byte, error) {
	if !hasSeedLabel(path) {
		return nil, fmt.Errorf("reading %s: not a FAT volume labelled %s", path, seed.Label)
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
	b, err := v.readFile(seed.File, seed.MaxBytes)
	if errors.Is(err, errNoFile) {
		return nil, fmt.Errorf("the seed disk %s has no %s (put the file at the top of the disk)", dev, seed.File)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", seed.File, dev, err)
	}
	return b, nil
}
