// Command probe is the init of the boot floor measurement (go run
// ./ci/bench/image): booted as /init in place of the device's init, it
// prints when it started (CLOCK_BOOTTIME, counted from kernel start) and
// how long programs take to start inside the VM, then powers the VM off.
// Every line it prints starts with "probe: ".
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DeviceBinary is the device's one binary, present when the probe runs
// inside the image's initramfs.
const DeviceBinary = "/bin/vxway-device"

// Runs is how many times each program is started: the first run pays the
// emulator's translation of the program's code, the later ones do not.
const Runs = 3

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		return
	}
	fmt.Printf("probe: init start %d\n", sinceKernelStart().Nanoseconds())
	// exec needs /dev/null for a child's unset streams.
	if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err != nil {
		fmt.Printf("probe: mounting /dev: %v\n", err)
	}
	report("go", os.Args[0], os.Args[0], "child")
	if _, err := os.Stat(DeviceBinary); err == nil {
		// Run as xcli (the name picks the program): its help needs no
		// device state.
		report("device", DeviceBinary, "xcli", "--help")
	}
	fmt.Println("probe: done")
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Printf("probe: power off: %v\n", err)
	}
	select {}
}

// report starts the program at path with argv (argv[0] is the name it
// runs as) Runs times and prints each run's wall time in nanoseconds:
// "probe: run NAME T1 T2 T3".
func report(name, path string, argv ...string) {
	var took []string
	for range Runs {
		cmd := &exec.Cmd{Path: path, Args: argv}
		t := sinceKernelStart()
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Printf("probe: %s: %v: %.200q\n", path, err, out)
			return
		}
		took = append(took, fmt.Sprint((sinceKernelStart() - t).Nanoseconds()))
	}
	fmt.Printf("probe: run %s %s\n", name, strings.Join(took, " "))
}

// sinceKernelStart is CLOCK_BOOTTIME, the clock the device's init reports
// its ready time in.
func sinceKernelStart() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
