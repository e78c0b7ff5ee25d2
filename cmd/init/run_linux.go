package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"vxway/boot"
	"vxway/clock"
	"vxway/netconf"
	"vxway/supervise"
)

// The signals that ask PID 1 to stop the device (as busybox init reads
// them): SIGTERM or SIGINT (Ctrl-Alt-Del) reboot, SIGUSR2 powers off.
const (
	rebootSignal   = syscall.SIGTERM
	poweroffSignal = syscall.SIGUSR2
)

func progName(args []string) string {
	if len(args) == 0 {
		return "init"
	}
	return filepath.Base(args[0])
}

// run is init under its own name and, under the names reboot and poweroff,
// the commands that ask PID 1 to stop the device.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch name := progName(args); name {
	case "reboot", "poweroff":
		if len(args) > 1 {
			return fmt.Errorf("usage: %s (takes no arguments)", name)
		}
		sig := rebootSignal
		if name == "poweroff" {
			sig = poweroffSignal
		}
		if err := syscall.Kill(1, sig); err != nil {
			return fmt.Errorf("asking init to %s: %w", name, err)
		}
		return nil
	}
	if os.Getpid() != 1 {
		return fmt.Errorf("init runs only as process 1; to stop the device use reboot or poweroff")
	}
	d := newDevice("/", stdout)
	if _, err := raiseFileLimit(fileLimit); err != nil {
		d.logf("%v", err)
	}
	d.network = func(ctx context.Context) error {
		return netconf.Up(ctx, d.root, d.tagged)
	}
	d.serveForever(ctx)
	return nil
}

// newDevice returns the device as it runs on the appliance.
func newDevice(root string, console io.Writer) *device {
	return &device{
		root:         root,
		console:      console,
		sys:          boot.Linux{Mke2fs: filepath.Join(root, "sbin/mke2fs")},
		clock:        clock.Real{},
		reaper:       &supervise.Reaper{Proc: filepath.Join(root, "proc")},
		accounts:     deviceAccounts(),
		privsep:      true,
		tty:          filepath.Join(root, "dev/ttyS0"),
		sshAddr:      ":22",
		httpsAddr:    ":443",
		bootTime:     bootTime,
		halt:         make(chan boot.Halt, 1),
		links:        true,
		slots:        true,
		system:       true,
		readyTimeout: 10 * time.Second,
	}
}

// bootTime is the time since the kernel started (CLOCK_BOOTTIME).
func bootTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
