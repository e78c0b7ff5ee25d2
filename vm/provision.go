package vm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"

	"vxway/firstboot"
	"vxway/image"
)

// Provisioning disk facts: a whole-disk FAT16 filesystem (no partition
// table) labelled VXPROV holding /provision.toml, like cloud-init's NoCloud
// seed.
const (
	ProvisionLabel    = "VXPROV"
	ProvisionFileName = "provision.toml"
	provisionDiskSize = 8 << 20
)

// ErrBadProvision marks a provisioning file that cannot go on the disk.
var ErrBadProvision = errors.New("bad provisioning file")

// MakeProvisionDisk writes a VXPROV disk holding the file src as
// provision.toml to out (via a temporary file and a rename). The file is
// checked first with the device's own seed parser (firstboot.Parse), so a
// mistake is reported here, with its key and line, rather than at first
// boot. Timestamps are t, so the same file gives the same disk.
func MakeProvisionDisk(src, out string, t time.Time) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading provisioning file: %w", err)
	}
	if _, err := firstboot.Parse(b); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadProvision, src, err)
	}
	dir := filepath.Dir(out)
	tmpf, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("output %s is not writable: %w", out, err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	os.Remove(tmp)
	defer os.Remove(tmp)

	err = image.WithSourceDateEpoch(t, func() error { return writeProvisionDisk(tmp, b) })
	if err != nil {
		return err
	}
	if err := freeCluster2(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("moving the disk to %s: %w", out, err)
	}
	return nil
}

// writeProvisionDisk makes the FAT16 disk file tmp holding b.
func writeProvisionDisk(tmp string, b []byte) error {
	d, err := diskfs.Create(tmp, provisionDiskSize, diskfs.SectorSize512)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeFat16, VolumeLabel: ProvisionLabel, Reproducible: true})
	if err != nil {
		d.Close()
		return fmt.Errorf("making the VXPROV filesystem: %w", err)
	}
	w, err := fs.OpenFile("/"+ProvisionFileName, os.O_CREATE|os.O_RDWR)
	if err != nil {
		d.Close()
		return fmt.Errorf("creating %s on the disk: %w", ProvisionFileName, err)
	}
	if _, err := w.Write(b); err != nil {
		d.Close()
		return fmt.Errorf("writing %s on the disk: %w", ProvisionFileName, err)
	}
	if err := w.Close(); err != nil {
		d.Close()
		return fmt.Errorf("closing %s on the disk: %w", ProvisionFileName, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	return nil
}

// freeCluster2 undoes a go-diskfs FAT16 slip: it marks cluster 2 as used
// for the root directory, which on FAT16 lives outside the data area, and
// fsck.vfat then reports a lost cluster. The entry is cleared in every FAT
// when no root directory entry starts at cluster 2.
func freeCluster2(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	bs := make([]byte, 512)
	if _, err := f.ReadAt(bs, 0); err != nil {
		return fmt.Errorf("reading the boot sector: %w", err)
	}
	le := binary.LittleEndian
	bps := int64(le.Uint16(bs[11:]))
	reserved := int64(le.Uint16(bs[14:]))
	nfats := int64(bs[16])
	rootEntries := int64(le.Uint16(bs[17:]))
	spf := int64(le.Uint16(bs[22:]))
	if bps != 512 || spf == 0 || string(bs[54:59]) != "FAT16" {
		return fmt.Errorf("the provisioning disk is not the FAT16 layout this tool writes")
	}
	root := make([]byte, rootEntries*32)
	if _, err := f.ReadAt(root, (reserved+nfats*spf)*bps); err != nil {
		return fmt.Errorf("reading the root directory: %w", err)
	}
	for off := 0; off < len(root); off += 32 {
		e := root[off : off+32]
		if e[0] == 0 {
			break
		}
		if e[0] != 0xe5 && e[11] != 0x0f && le.Uint16(e[26:]) == 2 {
			return nil // in use after all
		}
	}
	for i := int64(0); i < nfats; i++ {
		if _, err := f.WriteAt([]byte{0, 0}, (reserved+i*spf)*bps+4); err != nil {
			return fmt.Errorf("writing the FAT: %w", err)
		}
	}
	return f.Close()
}
