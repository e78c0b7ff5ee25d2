package vm

import (
	"fmt"
	"os"
	"path/filepath"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"

	"vxway/firstboot/seed"
)

// seedDiskBytes is the size of a seed disk: the smallest FAT32 that every
// reader (mtools, fsck.vfat, other hypervisors' guests) accepts. The image
// file is sparse, so it takes well under 1 MiB.
const seedDiskBytes = 40 << 20

// WriteSeedDisk writes a raw disk image at path: a FAT32 filesystem
// labelled VXPROV, without a partition table, holding content as
// provision.toml. It does not check the seed (MakeProvisionDisk does), so
// that a bad seed can be built on purpose. The image is built next to path
// and renamed into place, so path never holds half an image.
// SOURCE_DATE_EPOCH fixes its timestamps.
func WriteSeedDisk(path string, content []byte) (err error) {
	if len(content) > seed.MaxBytes {
		return fmt.Errorf("writing %s: the seed is %d bytes; at most %d are allowed", path, len(content), seed.MaxBytes)
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
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeFat32, VolumeLabel: seed.Label, Reproducible: true})
	if err != nil {
		return fmt.Errorf("making the FAT filesystem in %s: %w", tmp, err)
	}
	f, err := fs.OpenFile("/"+seed.File, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("creating %s in %s: %w", seed.File, tmp, err)
	}
	if _, err := f.Write(content); err != nil {
		return fmt.Errorf("writing %s in %s: %w", seed.File, tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s in %s: %w", seed.File, tmp, err)
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
