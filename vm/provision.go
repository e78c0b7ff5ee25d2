package vm

import (
	"errors"
	"fmt"
	"os"
	"time"

	"vxway/firstboot/seed"
	"vxway/image"
)

// ErrBadProvision marks a provisioning file that cannot go on the disk.
var ErrBadProvision = errors.New("bad provisioning file")

// MakeProvisionDisk writes a VXPROV seed disk holding the file src as
// provision.toml to out: the device's own disk format
// (WriteSeedDisk, a whole-disk FAT32 labelled VXPROV, like
// cloud-init's NoCloud seed), written beside out and renamed into place.
// The file is checked first with the device's own seed parser
// (seed.Parse), so a mistake is reported here, with its key and line,
// rather than at first boot. Timestamps are t, so the same file gives the
// same disk.
func MakeProvisionDisk(src, out string, t time.Time) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading provisioning file: %w", err)
	}
	if _, err := seed.Parse(b); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadProvision, src, err)
	}
	return image.WithSourceDateEpoch(t, func() error { return WriteSeedDisk(out, b) })
}
