// Command sipserver is the device's SIP registrar and proxy (package
// sipsvc): SIP on UDP and TCP 5060 and TLS 5061, its local API on a unix
// socket, admissions and live counts through the licensing agent.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sipserver:", err)
		os.Exit(1)
	}
}
