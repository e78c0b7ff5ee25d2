// Command vxway is the host tool of the vxway appliance: it builds the disk
// image, boots it in QEMU, inspects it and writes provisioning disks.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vxway:", err)
		os.Exit(1)
	}
}
