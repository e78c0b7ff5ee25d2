package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"vxway/agent"
)

// newApp builds the command line of the agent daemon.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "smartagent",
		Usage:     "Smart Licensing agent: licensing state, manager exchanges and the local API",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/", Usage: "device root directory holding etc/, persist/, data/ and run/"},
			&cli.StringFlag{Name: "socket", Usage: "local API socket (default <root>/" + agent.SocketPath + ")"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "limit on one exchange with the license manager"},
			&cli.DurationFlag{Name: "retry-every", Value: agent.RetryEvery, Usage: "wait after a failed exchange (tests shorten it)", Hidden: true},
		},
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			return serve(c.Context, c.String("root"), c.String("socket"), agent.Options{Timeout: c.Duration("timeout"), RetryEvery: c.Duration("retry-every")}, stderr)
		},
	}
}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return newApp(stdout, stderr).RunContext(ctx, args)
}

// serve listens on the local API socket first, so that the socket accepts
// as soon as the process runs (init's readiness check at boot), then loads
// the state; requests wait until it is loaded.
func serve(ctx context.Context, root, socket string, opts agent.Options, stderr io.Writer) error {
	if socket == "" {
		socket = filepath.Join(root, agent.SocketPath)
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
	go func() { served <- agent.ServeHandler(sctx, ln, api) }()
	a, err := agent.New(opts)
	if err != nil {
		api.Fail(err)
		stop()
		<-served
		return fmt.Errorf("starting the agent: %w", err)
	}
	defer a.Close()
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
