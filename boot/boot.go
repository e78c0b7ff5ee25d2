// Package boot brings the device's filesystems up and takes them down again:
// the kernel filesystems, the persist and data partitions found by their GPT
// names (made with mke2fs when blank), the hostname, and a clean reboot or
// power-off. Every system call goes through the System interface so the
// whole sequence runs on the host over a temporary root directory in tests.
package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Mount flags used by the sequence (the Linux values; the package keeps its
// own copies so the sequence compiles and is tested on any host).
const (
	msReadOnly = 0x1
	msNoSUID   = 0x2
	msNoDev    = 0x4
	msNoExec   = 0x8
	msRemount  = 0x20
	msNoAtime  = 0x400
)

// Halt says how the device stops.
type Halt int

// The ways to stop.
const (
	Reboot Halt = iota
	PowerOff
)

func (h Halt) String() string {
	if h == PowerOff {
		return "power-off"
	}
	return "reboot"
}

// System is the set of system calls the boot sequence needs. Paths are
// absolute paths on the running system (already joined with the root).
type System interface {
	// Mount attaches a filesystem, as mount(2).
	Mount(source, target, fstype string, flags uintptr, data string) error
	// Unmount detaches a filesystem, as umount(2).
	Unmount(target string) error
	// MakeExt4 makes an empty ext4 filesystem labelled label on device.
	MakeExt4(device, label string) error
	// Sync flushes every filesystem, as sync(2).
	Sync()
	// Halt stops the machine, as reboot(2); it returns only on failure.
	Halt(how Halt) error
	// SetHostname sets the kernel's host name.
	SetHostname(name string) error
}

// ErrNoPartition reports a GPT partition name that no block device carries.
var ErrNoPartition = errors.New("no partition with that GPT name")

// Mount is one filesystem the sequence mounts.
type Mount struct {
	Source string
	Target string // relative to the root
	FSType string
	Flags  uintptr
	Data   string
}

func (m Mount) String() string {
	s := fmt.Sprintf("mount %s on /%s type %s", m.Source, m.Target, m.FSType)
	if m.Data != "" {
		s += " (" + m.Data + ")"
	}
	return s
}

// EarlyMounts are the kernel filesystems every later step depends on, in
// order.
func EarlyMounts() []Mount {
	return []Mount{
		{Source: "proc", Target: "proc", FSType: "proc", Flags: msNoSUID | msNoDev | msNoExec},
		{Source: "sysfs", Target: "sys", FSType: "sysfs", Flags: msNoSUID | msNoDev | msNoExec},
		{Source: "devtmpfs", Target: "dev", FSType: "devtmpfs", Flags: msNoSUID, Data: "mode=0755"},
		{Source: "devpts", Target: "dev/pts", FSType: "devpts", Flags: msNoSUID | msNoExec, Data: "mode=0620,ptmxmode=0666"},
		{Source: "tmpfs", Target: "run", FSType: "tmpfs", Flags: msNoSUID | msNoDev, Data: "mode=0755"},
		{Source: "tmpfs", Target: "tmp", FSType: "tmpfs", Flags: msNoSUID | msNoDev, Data: "mode=1777"},
	}
}

// Volume is a partition the device keeps its state on.
type Volume struct {
	PartName string // GPT partition name
	Target   string // mount point relative to the root
}

// Volumes are the state partitions, in mount order.
func Volumes() []Volume {
	return []Volume{
		{PartName: "persist", Target: "persist"},
		{PartName: "data", Target: "data"},
	}
}

// Boot runs the boot and shutdown sequences over a root directory.
type Boot struct {
	Root string    // "/" on the device
	Sys  System    // the system calls
	Log  io.Writer // init's console lines
	// Wait is how long to wait for the partitions to appear; the kernel
	// probes disks asynchronously.
	Wait time.Duration
	// Sleep pauses between looks for the partitions; time.Sleep when nil.
	Sleep func(time.Duration)

	mounted []string // targets this Boot mounted, in order
}

func (b *Boot) path(rel string) string { return filepath.Join(b.Root, rel) }

func (b *Boot) logf(format string, args ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, "init: "+format+"\n", args...)
	}
}

// MountEarly mounts proc, sys, dev, dev/pts, run and tmp.
func (b *Boot) MountEarly() error {
	for _, m := range EarlyMounts() {
		if err := b.mount(m); err != nil {
			return err
		}
	}
	return nil
}

func (b *Boot) mount(m Mount) error {
	target := b.path(m.Target)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("making mount point %s: %w", target, err)
	}
	if err := b.Sys.Mount(m.Source, target, m.FSType, m.Flags, m.Data); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", m.Source, target, err)
	}
	b.mounted = append(b.mounted, target)
	return nil
}

// FindPartition returns the device path (under the root's dev directory)
// of the block device whose GPT partition name is name.
func (b *Boot) FindPartition(name string) (string, error) {
	dir := b.path("sys/class/block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		u, err := os.ReadFile(filepath.Join(dir, e.Name(), "uevent"))
		if err != nil {
			continue
		}
		vars := parseUevent(string(u))
		if vars["PARTNAME"] != name {
			continue
		}
		dev := vars["DEVNAME"]
		if dev == "" {
			dev = e.Name()
		}
		return b.path(filepath.Join("dev", dev)), nil
	}
	return "", fmt.Errorf("finding partition %q: %w", name, ErrNoPartition)
}

func parseUevent(s string) map[string]string {
	vars := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			vars[k] = v
		}
	}
	return vars
}

// findPartitionWaiting looks for the partition until b.Wait has passed.
func (b *Boot) findPartitionWaiting(name string) (string, error) {
	sleep := b.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	const step = 10 * time.Millisecond
	var waited time.Duration
	for {
		dev, err := b.FindPartition(name)
		if err == nil || !errors.Is(err, ErrNoPartition) || waited >= b.Wait {
			return dev, err
		}
		sleep(step)
		waited += step
	}
}

// ext4 superblock: 1024 bytes in, magic 0xEF53 at offset 56.
const (
	superblockOffset = 1024
	magicOffset      = superblockOffset + 56
)

// HasExt4 reports whether device holds an ext2/3/4 superblock.
func HasExt4(device string) (bool, error) {
	f, err := os.Open(device)
	if err != nil {
		return false, fmt.Errorf("opening %s: %w", device, err)
	}
	defer f.Close()
	var magic [2]byte
	n, err := f.ReadAt(magic[:], magicOffset)
	if n < len(magic) {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("reading the superblock of %s: %w", device, err)
	}
	return magic[0] == 0x53 && magic[1] == 0xEF, nil
}

// MountVolumes finds persist and data, makes an ext4 filesystem on a blank
// one, and mounts both.
func (b *Boot) MountVolumes() error {
	for _, v := range Volumes() {
		if err := b.MountVolume(v); err != nil {
			return err
		}
	}
	return nil
}

// MountVolume finds one state partition, makes its filesystem when it is
// blank, and mounts it.
func (b *Boot) MountVolume(v Volume) error {
	dev, err := b.findPartitionWaiting(v.PartName)
	if err != nil {
		return err
	}
	ok, err := HasExt4(dev)
	if err != nil {
		return err
	}
	if !ok {
		b.logf("%s (%s) is blank: making an ext4 filesystem", v.PartName, filepath.Base(dev))
		if err := b.Sys.MakeExt4(dev, v.PartName); err != nil {
			return fmt.Errorf("making the %s filesystem on %s: %w", v.PartName, dev, err)
		}
	}
	return b.mount(Mount{Source: dev, Target: v.Target, FSType: "ext4", Flags: msNoAtime, Data: ""})
}

// Remake unmounts the volume, makes a new empty ext4 filesystem on it and
// mounts it again: the factory reset's way to wipe data.
func (b *Boot) Remake(v Volume) error {
	dev, err := b.FindPartition(v.PartName)
	if err != nil {
		return err
	}
	target := b.path(v.Target)
	b.Sys.Sync()
	if err := b.Sys.Unmount(target); err != nil {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	b.forget(target)
	if err := b.Sys.MakeExt4(dev, v.PartName); err != nil {
		return fmt.Errorf("making the %s filesystem on %s: %w", v.PartName, dev, err)
	}
	return b.mount(Mount{Source: dev, Target: v.Target, FSType: "ext4", Flags: msNoAtime})
}

func (b *Boot) forget(target string) {
	for i, m := range b.mounted {
		if m == target {
			b.mounted = append(b.mounted[:i], b.mounted[i+1:]...)
			return
		}
	}
}

// Mounted lists the mount points this Boot mounted, in mount order.
func (b *Boot) Mounted() []string { return append([]string(nil), b.mounted...) }

// Shutdown syncs, unmounts the state partitions (newest first) and stops
// the machine. It returns only when the final system call fails. Stop the
// services before calling it.
func (b *Boot) Shutdown(how Halt) error {
	b.logf("%s: syncing and unmounting", how)
	b.Sys.Sync()
	var errs []error
	for i := len(b.mounted) - 1; i >= 0; i-- {
		target := b.mounted[i]
		if !b.isVolume(target) {
			continue // kernel filesystems need no unmounting
		}
		if err := b.Sys.Unmount(target); err != nil {
			// Something still holds a file open: make the filesystem
			// read-only so it is clean when the power goes.
			rerr := b.Sys.Mount("", target, "", msRemount|msReadOnly, "")
			if rerr != nil {
				errs = append(errs, fmt.Errorf("unmounting %s: %w; remounting it read-only: %w", target, err, rerr))
			}
			continue
		}
		b.forget(target)
	}
	for _, err := range errs {
		b.logf("%v", err)
	}
	b.Sys.Sync()
	if err := b.Sys.Halt(how); err != nil {
		return fmt.Errorf("%s: %w", how, err)
	}
	return nil
}

func (b *Boot) isVolume(target string) bool {
	for _, v := range Volumes() {
		if b.path(v.Target) == target {
			return true
		}
	}
	return false
}

// dataVolume is the data partition of Volumes.
func (b *Boot) dataVolume() Volume { return Volume{PartName: "data", Target: "data"} }

// isMounted reports whether this Boot has target mounted.
func (b *Boot) isMounted(target string) bool {
	for _, m := range b.mounted {
		if m == target {
			return true
		}
	}
	return false
}

// UnmountData unmounts data; data not mounted is not an error. With the
// methods MakeData and MountData, Boot is the factory reset's Disk.
func (b *Boot) UnmountData(ctx context.Context) error {
	target := b.path(b.dataVolume().Target)
	if !b.isMounted(target) {
		return nil
	}
	b.Sys.Sync()
	if err := b.Sys.Unmount(target); err != nil {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	b.forget(target)
	return nil
}

// MakeData makes a new empty ext4 filesystem on the data partition.
func (b *Boot) MakeData(ctx context.Context) error {
	v := b.dataVolume()
	dev, err := b.findPartitionWaiting(v.PartName)
	if err != nil {
		return err
	}
	if b.isMounted(b.path(v.Target)) {
		return fmt.Errorf("making the data filesystem: %s is still mounted", b.path(v.Target))
	}
	b.logf("making a new data filesystem on %s", filepath.Base(dev))
	if err := b.Sys.MakeExt4(dev, v.PartName); err != nil {
		return fmt.Errorf("making the %s filesystem on %s: %w", v.PartName, dev, err)
	}
	return nil
}

// MountData mounts data, making the filesystem first when the partition is
// blank; data already mounted is not an error.
func (b *Boot) MountData(ctx context.Context) error {
	v := b.dataVolume()
	if b.isMounted(b.path(v.Target)) {
		return nil
	}
	return b.MountVolume(v)
}
