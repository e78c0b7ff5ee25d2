package vm

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// KVMWorks reports whether KVM can run this VM: /dev/kvm opens read-write
// and creates a VM, and QEMU (the binary qemu) sets up a KVM vCPU with
// -cpu host. The last step catches hosts (nested virtualization) where
// /dev/kvm exists but QEMU aborts on the CPU's registers.
func KVMWorks(qemu string) bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	const kvmGetAPIVersion, kvmCreateVM = 0xae00, 0xae01
	v, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmGetAPIVersion, 0)
	if errno != 0 || v != 12 {
		return false
	}
	fd, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return false
	}
	syscall.Close(int(fd))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "64",
		"-nodefaults", "-display", "none", "-S", "-monitor", "stdio", "-serial", "none")
	cmd.Stdin = strings.NewReader("quit\n")
	return cmd.Run() == nil
}
