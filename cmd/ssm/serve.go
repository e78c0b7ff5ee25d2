package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"

	"github.com/urfave/cli/v2"

	"vxway/licproto"
	"vxway/ssm"
	"vxway/ssm/portal"
)

func (e *cmdEnv) serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the agent endpoint, the admin API and the web portal over HTTPS",
		ArgsUsage: " ",
		Flags: withStoreFlags(
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "`ADDR` to listen on (host:port)"},
			&cli.StringFlag{Name: "mode", Value: ssm.ModeOnPrem, Usage: "onprem (endpoint /SmartTransport) or cloud (endpoint --cloud-path)"},
			&cli.StringFlag{Name: "cloud-path", Value: licproto.DirectPath, Usage: "endpoint `PATH` in cloud mode (the path of the build config's direct_url)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the manager to `FILE` until it stops (for performance work)"},
			&cli.Float64Flag{Name: "rate-limit", Value: ssm.DefaultRateLimit, Usage: "agent requests and TLS handshakes per second one source address may make (`N`, bursts of 10*N); 0 turns the limit off"},
		),
		Action: e.serve,
	}
}

func (e *cmdEnv) serve(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	dir, err := e.dataDir(c)
	if err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("serve needs --data DIR (made by ssm init; or %s)", envData)
	}
	db, err := e.setting(c, "db", envDB)
	if err != nil {
		return err
	}
	if p := c.String("cpuprofile"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("creating CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rate := c.Float64("rate-limit")
	switch {
	case rate < 0:
		return fmt.Errorf("--rate-limit %v is negative; give requests per second, or 0 for no limit", rate)
	case rate == 0:
		rate = -1 // ServeOptions: no limit
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	return ssm.Serve(c.Context, ssm.ServeOptions{
		Dir: dir, DB: db, Listen: c.String("listen"), Mode: c.String("mode"),
		CloudPath: c.String("cloud-path"), Clock: e.clock, Log: log, RateLimit: rate,
		Ready: func(addr net.Addr, path string) {
			fmt.Fprintf(e.stdout, "serving %s agent endpoint https://%s%s and admin API https://%s/api/v1/; portal https://%s/portal/\n", c.String("mode"), addr, path, addr, addr)
		},
		Portal: func(d ssm.PortalDeps) http.Handler {
			return portal.New(portal.Options{Store: d.Store, Reservations: d.Reservations, Clock: d.Clock, Log: d.Log})
		},
	})
}
