// Command smartagent is the device's Smart Licensing agent: it keeps the
// licensing state, talks to the license manager and serves the local API
// on a unix socket.
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
	if err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "smartagent:", err)
		os.Exit(1)
	}
}
