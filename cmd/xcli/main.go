// Command xcli is the device's administrator CLI. It is installed once and
// linked as xcommand, xconfiguration, xstatus (one request each), xshell
// (the interactive xAPI shell) and passwd; the name it runs under picks the
// command.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"vxway/xshell"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		// A failed request has already printed its reason in TAPI form.
		if !errors.Is(err, xshell.ErrFailed) {
			fmt.Fprintf(os.Stderr, "%s: %v\n", progName(os.Args), err)
		}
		os.Exit(1)
	}
}
