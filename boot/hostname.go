package boot

import (
	"errors"
	"fmt"

	"vxway/platform"
)

// Hostname returns the host name the device should carry: the one in the
// device configuration (data/config/system.json), else the image's default
// (etc/vxway/image.json), else platform.DefaultHostname. A configuration
// that cannot be read is reported along with the name used instead.
func Hostname(root string) (string, error) {
	c, err := platform.LoadSystemConfig(root)
	if err == nil && c.Hostname != "" {
		return c.Hostname, nil
	}
	info, ierr := platform.LoadImageInfo(root)
	if ierr == nil && info.Hostname != "" {
		return info.Hostname, err
	}
	if errors.Is(ierr, platform.ErrNoImageInfo) {
		ierr = nil
	}
	return platform.DefaultHostname, errors.Join(err, ierr)
}

// SetHostname sets the kernel host name from Hostname and returns it.
func (b *Boot) SetHostname() (string, error) {
	name, err := Hostname(b.Root)
	if err != nil {
		b.logf("%v; using the host name %q", err, name)
	}
	if err := b.Sys.SetHostname(name); err != nil {
		return name, fmt.Errorf("setting the host name to %q: %w", name, err)
	}
	return name, nil
}
