package main

import (
	"context"
	"crypto/fips140"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"vxway/agent"
	"vxway/agentclient"
)

// command is the agent daemon's command line.
type command struct {
	flags        *flag.FlagSet
	root, socket string
	opts         agent.Options
}

// newCommand builds the command line of the agent daemon with the
// standard flag package. urfave/cli is not used here: the agent starts at
// every boot and init waits for it, and urfave/cli's package
// initialization (its man-page renderer, help templates and regular
// expressions with the Unicode tables they pull in) cost about 200 ms of
// the 1 s boot budget under software emulation.
func newCommand() *command {
	c := &command{flags: flag.NewFlagSet("smartagent", flag.ContinueOnError)}
	f := c.flags
	f.SetOutput(io.Discard) // errors are returned, help is printed by run
	f.StringVar(&c.root, "root", "/", "device root `DIR` holding etc/, persist/, data/ and run/")
	f.StringVar(&c.socket, "socket", "", "local API socket `PATH` (default <root>/"+agentclient.SocketPath+")")
	f.DurationVar(&c.opts.Timeout, "timeout", 30*time.Second, "limit on one exchange with the license manager (a `DURATION` such as 30s)")
	// Left out of --help: tests shorten it.
	f.DurationVar(&c.opts.RetryEvery, "retry-every", agent.RetryEvery, "wait after a failed exchange")
	// Left out of --help: host tests run clusters on loopback, where the
	// second interface's address cannot be.
	f.StringVar(&c.opts.ClusterListen, "cluster-listen", "", "cluster peer `ADDRESS` (default: the Ethernet 2 address, port 4371)")
	return c
}

// usage writes the help of the command line.
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "NAME:\n   smartagent - Smart Licensing agent: licensing state, manager exchanges and the local API\n\n")
	fmt.Fprintf(w, "USAGE:\n   smartagent [options]\n\nOPTIONS:\n")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	defer tw.Flush()
	c.flags.VisitAll(func(fl *flag.Flag) {
		if fl.Name == "retry-every" || fl.Name == "cluster-listen" {
			return
		}
		name, text := flag.UnquoteUsage(fl)
		def := ""
		if fl.DefValue != "" {
			def = fmt.Sprintf(" (default: %q)", fl.DefValue)
		}
		fmt.Fprintf(tw, "   --%s %s\t%s%s\n", fl.Name, name, text, def)
	})
	fmt.Fprintf(tw, "   --help, -h\tshow help\n")
}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	c := newCommand()
	err := c.flags.Parse(args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.usage(stdout)
		return nil
	case err != nil:
		return fmt.Errorf("%v (smartagent --help lists the options)", err)
	case c.flags.NArg() > 0:
		return fmt.Errorf("unexpected argument %q: smartagent takes options only (smartagent --help lists them)", c.flags.Arg(0))
	}
	return serve(ctx, c.root, c.socket, c.opts, stderr)
}

// serve listens on the local API socket first, so that the socket accepts
// as soon as the process runs (init's readiness check at boot), then loads
// the state; requests wait until it is loaded.
func serve(ctx context.Context, root, socket string, opts agent.Options, stderr io.Writer) error {
	if socket == "" {
		socket = filepath.Join(root, agentclient.SocketPath)
	}
	logger := log.New(stderr, "", log.LstdFlags|log.LUTC)
	opts.Root, opts.Logf = root, logger.Printf
	ln, err := agent.Listen(socket)
	if err != nil {
		return err
	}
	listened, ageErr := processAge()
	api := agent.NewLoading()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- agent.ServeHandler(sctx, ln, api, agent.DevicePolicy(uint32(os.Geteuid()))) }()
	a, err := agent.New(opts)
	if err != nil {
		api.Fail(err)
		stop()
		<-served
		return fmt.Errorf("starting the agent: %w", err)
	}
	defer a.Close()
	if fips140.Enabled() {
		logger.Printf("licensing: FIPS 140-3 mode: the Go Cryptographic Module %s is enforced; the manager transport uses approved TLS only", fips140.Version())
	}
	a.SyncEnabled()
	a.Start()
	api.Ready(a)
	if loaded, err := processAge(); err == nil && ageErr == nil {
		logger.Printf("licensing: serving the local API on %s (socket open %s, state loaded %s after the process started)", socket, ms(listened), ms(loaded))
	} else {
		logger.Printf("licensing: serving the local API on %s", socket)
	}
	return <-served
}

// ms shows a start-up time in whole milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }
