// Command factory-reset resets the device to factory defaults, keeping
// what the administrator chooses (by prompts or flags), and reboots so the
// reset runs early in the next boot. See docs/factory-reset.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Ctrl+C cancels the dialogue through the context instead of killing
	// the process, so a cancelled reset always says so.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "factory-reset: %v\n", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
