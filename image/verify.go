package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Verify checks an image with independent tools: sgdisk -v on the disk,
// fsck.vfat -n on the ESP and e2fsck -fn on persist and data (each
// partition extracted to a temporary file). A missing tool is an
// ErrHostPackage naming its Debian package.
func Verify(ctx context.Context, img string) error {
	tools := []struct{ tool, pkg string }{{"sgdisk", "gdisk"}, {"fsck.vfat", "dosfstools"}, {"e2fsck", "e2fsprogs"}}
	var missing []HostPackage
	for _, t := range tools {
		if _, err := exec.LookPath(t.tool); err != nil {
			missing = append(missing, HostPackage{Name: t.pkg})
		}
	}
	if len(missing) > 0 {
		return RequireHost(missing...)
	}
	var errs []error
	out, err := exec.CommandContext(ctx, "sgdisk", "-v", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") {
		errs = append(errs, fmt.Errorf("sgdisk -v %s: %v\n%s", img, err, out))
	}
	parts, err := Partitions(img)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "vxway-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, p := range parts {
		f := filepath.Join(dir, p.Name)
		if err := Extract(img, p, f); err != nil {
			return err
		}
		var cmd *exec.Cmd
		if p.Name == PartESP {
			cmd = exec.CommandContext(ctx, "fsck.vfat", "-n", f)
		} else {
			cmd = exec.CommandContext(ctx, "e2fsck", "-fn", f)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s on partition %s: %v\n%s", cmd.Args[0], p.Name, err, out))
		}
		os.Remove(f)
	}
	return errors.Join(errs...)
}
