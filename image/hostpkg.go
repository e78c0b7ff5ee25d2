package image

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// HostPackage is a Debian package the host tool needs, found by any of its
// files.
type HostPackage struct {
	Name  string
	Files []string
}

// ErrHostPackage marks a missing host package.
var ErrHostPackage = errors.New("host package missing")

// Host packages of the build and of `vxway run`.
var (
	PkgSystemdBoot = HostPackage{"systemd-boot-efi", []string{"/usr/lib/systemd/boot/efi/systemd-bootx64.efi"}}
	PkgE2fsprogs   = HostPackage{"e2fsprogs", []string{"/usr/sbin/mke2fs", "/sbin/mke2fs"}}
	PkgOVMF        = HostPackage{"ovmf", []string{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"}}
	PkgQEMU        = HostPackage{"qemu-system-x86", []string{"/usr/bin/qemu-system-x86_64"}}
)

// Find returns the first file of p that exists, or "" when none does.
func (p HostPackage) Find() string {
	for _, f := range p.Files {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

// RequireHost returns one error naming every missing package and the
// command that installs them.
func RequireHost(pkgs ...HostPackage) error {
	var missing []string
	for _, p := range pkgs {
		if p.Find() == "" {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s (install with: apt-get install -y %s)", ErrHostPackage,
		strings.Join(missing, ", "), strings.Join(missing, " "))
}
