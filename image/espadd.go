package image

import (
	"fmt"
	"io/fs"
	"os"

	diskfs "github.com/diskfs/go-diskfs"
)

// AddESPFiles writes new files into the ESP of a built image, with the
// directories they need, and leaves the ESP as fsck.vfat expects it. It
// refuses a file that is already there, before writing anything: files
// are only added, never replaced.
func AddESPFiles(img string, files []ESPFile) error {
	esp, err := espPartition(img)
	if err != nil {
		return err
	}
	if err := addESPFiles(img, esp.Index, files); err != nil {
		return err
	}
	return fixESP(img, esp.Start)
}

func addESPFiles(img string, part int, files []ESPFile) (err error) {
	d, err := diskfs.Open(img)
	if err != nil {
		return fmt.Errorf("opening %s: %w", img, err)
	}
	defer func() {
		if cerr := d.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing %s: %w", img, cerr)
		}
	}()
	fsys, err := d.GetFilesystem(part)
	if err != nil {
		return fmt.Errorf("reading the ESP filesystem of %s: %w", img, err)
	}
	for _, f := range files {
		if r, err := fsys.OpenFile(f.Path, os.O_RDONLY); err == nil {
			r.Close()
			return fmt.Errorf("ESP of %s: %s: %w", img, f.Path, fs.ErrExist)
		}
	}
	return writeESPFiles(fsys, files)
}
