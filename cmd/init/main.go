// Command init is PID 1 of the device: it mounts the filesystems, carries
// out a pending factory reset, brings up the network, starts the services,
// the SSH and HTTPS servers and the console login, and prints
// "vxway: ready in <N>ms" once everything is up. Run as reboot or poweroff
// (argv[0]) it asks the running init to stop the device cleanly.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName(os.Args), err)
		os.Exit(1)
	}
}
