package boot

import (
	"bytes"
	"fmt"
	"os/exec"

	"golang.org/x/sys/unix"
)

// Linux is the System of a running Linux kernel.
type Linux struct {
	// Mke2fs is the path of Debian's mke2fs, /sbin/mke2fs on the device.
	Mke2fs string
	// Runner starts and waits for mke2fs; exec.Cmd's own when nil. PID 1
	// passes its orphan reaper so the reaper never takes mke2fs's exit
	// status.
	Runner interface {
		Start(*exec.Cmd) error
		Wait(*exec.Cmd) error
	}
}

// Mount calls mount(2).
func (Linux) Mount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

// Unmount calls umount(2).
func (Linux) Unmount(target string) error { return unix.Unmount(target, 0) }

// MakeExt4 runs mke2fs -t ext4 on device.
func (l Linux) MakeExt4(device, label string) error {
	mke2fs := l.Mke2fs
	if mke2fs == "" {
		mke2fs = "/sbin/mke2fs"
	}
	var out bytes.Buffer
	cmd := exec.Command(mke2fs, "-q", "-F", "-t", "ext4", "-L", label, device)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := l.run(cmd)
	if err != nil {
		return fmt.Errorf("running %s: %w: %s", mke2fs, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// Sync calls sync(2).
func (Linux) Sync() { unix.Sync() }

// Halt calls reboot(2).
func (Linux) Halt(how Halt) error {
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	if how == PowerOff {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	return unix.Reboot(cmd)
}

// SetHostname calls sethostname(2).
func (Linux) SetHostname(name string) error { return unix.Sethostname([]byte(name)) }

func (l Linux) run(cmd *exec.Cmd) error {
	if l.Runner == nil {
		return cmd.Run()
	}
	if err := l.Runner.Start(cmd); err != nil {
		return err
	}
	return l.Runner.Wait(cmd)
}
