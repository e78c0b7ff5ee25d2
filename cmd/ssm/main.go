// Command ssm is the vxway license manager: it serves the devices' Smart
// Licensing requests over HTTPS (on-prem or cloud endpoint) and administers
// accounts, licenses, tokens and product instances.
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
		fmt.Fprintf(os.Stderr, "ssm: %v\n", err)
		os.Exit(1)
	}
}
