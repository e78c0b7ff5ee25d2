package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"vxway/clock"
	"vxway/licproto"
	"vxway/reservation"
	"vxway/ssm"
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return newApp(stdin, stdout, stderr, clock.Real{}).RunContext(ctx, args)
}

// cmdEnv carries the injected streams and clock into the commands.
type cmdEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	clock  clock.Clock
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, clk clock.Clock) *cli.App {
	e := &cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr, clock: clk}
	dataFlag := &cli.StringFlag{Name: "data", Usage: "manager data `DIR` (CA, keys, admin token, SQLite database)", EnvVars: []string{"SSM_DATA"}}
	dbFlag := &cli.StringFlag{Name: "db", Usage: "PostgreSQL `URL` (postgres://...) instead of the SQLite file in the data directory", EnvVars: []string{"SSM_DB"}}
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}
	vaFlag := &cli.StringFlag{Name: "va", Usage: "virtual account `NAME`", Required: true}
	return &cli.App{
		Name:      "ssm",
		Usage:     "vxway license manager (on-prem and cloud Smart Licensing service)",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     []cli.Flag{dataFlag, dbFlag, jsonFlag},
		// Errors are printed once, by main.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:      "init",
				Usage:     "create a data directory: CA, server certificate, answer signing key, admin token, database",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "san", Usage: "server DNS `NAME`s and IP addresses (comma separated or repeated)", Required: true},
				},
				Action: e.initDir,
			},
			{
				Name:      "serve",
				Usage:     "serve the agent endpoint and the admin API over HTTPS",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "`ADDR` to listen on (host:port)"},
					&cli.StringFlag{Name: "mode", Value: ssm.ModeOnPrem, Usage: "onprem (endpoint /SmartTransport) or cloud (endpoint --cloud-path)"},
					&cli.StringFlag{Name: "cloud-path", Value: licproto.DirectPath, Usage: "endpoint `PATH` in cloud mode (the path of the build config's direct_url)"},
					&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the manager to `FILE` until it stops (for performance work)"},
					&cli.Float64Flag{Name: "rate-limit", Value: ssm.DefaultRateLimit, Usage: "agent requests and TLS handshakes per second one source address may make (`N`, bursts of 10*N); 0 turns the limit off"},
				},
				Action: e.serve,
			},
			{
				Name:  "account",
				Usage: "smart accounts",
				Subcommands: []*cli.Command{
					{Name: "create", Usage: "create a smart account", ArgsUsage: "NAME", Action: e.accountCreate},
					{Name: "list", Usage: "list smart accounts and their virtual accounts", ArgsUsage: " ", Action: e.accountList},
				},
			},
			{
				Name:  "va",
				Usage: "virtual accounts",
				Subcommands: []*cli.Command{
					{Name: "create", Usage: "create a virtual account in a smart account", ArgsUsage: "NAME",
						Flags: []cli.Flag{&cli.StringFlag{Name: "account", Usage: "smart account `NAME`", Required: true}}, Action: e.vaCreate},
				},
			},
			{
				Name:  "license",
				Usage: "purchased licenses of a virtual account",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "add purchased licenses", ArgsUsage: " ", Flags: []cli.Flag{vaFlag,
						&cli.StringFlag{Name: "type", Usage: "license `TYPE`: rms, desktop, room, or plr / plr-ec (PLR without / with export control)", Required: true},
						&cli.IntFlag{Name: "count", Usage: "how many (1..1000000)", Required: true}}, Action: e.licenseAdd},
					{Name: "list", Usage: "purchased, in use, reserved and available licenses per type", ArgsUsage: " ", Flags: []cli.Flag{vaFlag}, Action: e.licenseList},
				},
			},
			{
				Name:  "token",
				Usage: "product instance registration tokens",
				Subcommands: []*cli.Command{
					{Name: "create", Usage: "create a token (printed as the last line)", ArgsUsage: " ", Flags: []cli.Flag{vaFlag,
						&cli.IntFlag{Name: "expires-days", Value: ssm.DefaultTokenDays, Usage: "validity in days (1..365)"},
						&cli.IntFlag{Name: "uses", Usage: "how many registrations the token allows (0: unlimited)"},
						&cli.BoolFlag{Name: "no-export-control", Usage: "do not allow export-controlled functionality"},
					}, Action: e.tokenCreate},
					{Name: "revoke", Usage: "revoke a token", ArgsUsage: "TOKEN|ID", Action: e.tokenRevoke},
					{Name: "list", Usage: "list the tokens of a virtual account (masked)", ArgsUsage: " ", Flags: []cli.Flag{vaFlag}, Action: e.tokenList},
				},
			},
			{
				Name:  "instance",
				Usage: "registered product instances",
				Subcommands: []*cli.Command{
					{Name: "list", Usage: "list instances", ArgsUsage: " ",
						Flags: []cli.Flag{&cli.StringFlag{Name: "va", Usage: "only this virtual account"}}, Action: e.instanceList},
					{Name: "show", Usage: "show one instance with its usage", ArgsUsage: "UDI", Action: e.instanceShow},
					{Name: "remove", Usage: "remove an instance (its licenses return at once)", ArgsUsage: "UDI",
						Flags: []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"}}, Action: e.instanceRemove},
					{Name: "transfer", Usage: "move an instance and its usage to another virtual account", ArgsUsage: "UDI",
						Flags: []cli.Flag{&cli.StringFlag{Name: "va", Usage: "target virtual account `NAME`", Required: true}}, Action: e.instanceTransfer},
				},
			},
			{
				Name:  "reservation",
				Usage: "license reservation for disconnected devices (PLR and SLR codes)",
				Subcommands: []*cli.Command{
					{Name: "authorize", Usage: "issue an authorization code for a device's request code (printed as the last line)", ArgsUsage: " ",
						Flags: []cli.Flag{vaFlag,
							&cli.StringFlag{Name: "request", Usage: "the device's request `CODE`", Required: true},
							&cli.BoolFlag{Name: "plr", Usage: "Permanent License Reservation: everything up to the box's capacity"},
							&cli.BoolFlag{Name: "export-control", Usage: "allow export-controlled functionality"},
							&cli.StringFlag{Name: "license", Usage: "Specific License Reservation: `TYPE=N[,TYPE=N...]` (rms, room, desktop)"},
							&cli.StringFlag{Name: "end", Usage: "last day of the specific licenses, `YYYY-MM-DD` (default: perpetual)"},
						}, Action: e.reservationAuthorize},
					{Name: "confirm", Usage: "enter the confirmation code a device printed after installing an SLR code", ArgsUsage: " ",
						Flags: []cli.Flag{vaFlag, &cli.StringFlag{Name: "code", Usage: "confirmation `HEX` (8 digits)", Required: true}}, Action: e.reservationConfirm},
					{Name: "return", Usage: "enter a device's return code: its reserved licenses go back to the pool", ArgsUsage: " ",
						Flags: []cli.Flag{vaFlag, &cli.StringFlag{Name: "code", Usage: "the device's return `CODE`", Required: true}}, Action: e.reservationReturn},
					{Name: "list", Usage: "reserved product instances", ArgsUsage: " ", Flags: []cli.Flag{vaFlag}, Action: e.reservationList},
				},
			},
			{
				Name:      "events",
				Usage:     "history of a virtual account",
				ArgsUsage: " ",
				Flags:     []cli.Flag{vaFlag, &cli.IntFlag{Name: "limit", Value: ssm.EventsDefaultSize, Usage: "how many of the latest events"}},
				Action:    e.events,
			},
		},
	}
}

// oneArg returns the single positional argument named name.
func oneArg(c *cli.Context, name string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s takes one argument, %s (got %d)", c.Command.HelpName, name, c.NArg())
	}
	return c.Args().First(), nil
}

func noArgs(c *cli.Context) error {
	if c.NArg() != 0 {
		return fmt.Errorf("%s takes no arguments (got %q)", c.Command.HelpName, c.Args().Slice())
	}
	return nil
}

// openStore opens the database named by --db or the data directory.
func openStore(c *cli.Context) (*ssm.Store, error) {
	data, db := c.String("data"), c.String("db")
	if data == "" && db == "" {
		return nil, fmt.Errorf("no database: give --data DIR (made by ssm init) or --db postgres://USER@HOST/DB")
	}
	return ssm.OpenStore(c.Context, ssm.DBPath(data, db))
}

func (e *cmdEnv) withStore(c *cli.Context, f func(s *ssm.Store) error) error {
	s, err := openStore(c)
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}

func (e *cmdEnv) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// show prints v as JSON with --json, otherwise the table that text writes.
func (e *cmdEnv) show(c *cli.Context, v any, text func(w io.Writer)) error {
	if c.Bool("json") {
		return e.printJSON(v)
	}
	return e.table(text)
}

func (e *cmdEnv) table(f func(w io.Writer)) error {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	f(tw)
	return tw.Flush()
}

func (e *cmdEnv) initDir(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	dir := c.String("data")
	if dir == "" {
		return fmt.Errorf("init needs --data DIR")
	}
	var sans []string
	for _, s := range c.StringSlice("san") {
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				sans = append(sans, n)
			}
		}
	}
	if err := ssm.InitDir(dir, sans, e.clock.Now()); err != nil {
		return err
	}
	s, err := ssm.OpenStore(c.Context, ssm.DBPath(dir, c.String("db")))
	if err != nil {
		return err
	}
	kind := s.Dialect()
	s.Close()
	if kind == "sqlite" {
		// Token hashes and instance keys: readable by the manager only
		// (SQLite gives its WAL files the database file's mode).
		if err := os.Chmod(ssm.DBPath(dir, ""), 0o600); err != nil {
			return fmt.Errorf("restricting the database file: %w", err)
		}
	}
	fmt.Fprintf(e.stdout, "created manager data directory %s (database: %s)\n", dir, kind)
	fmt.Fprintf(e.stdout, "CA certificate for device images: %s\n", filepath.Join(dir, ssm.CACertFile))
	fmt.Fprintf(e.stdout, "server certificate names: %s\n", strings.Join(sans, ", "))
	fmt.Fprintf(e.stdout, "admin API bearer token: %s\n", filepath.Join(dir, ssm.AdminTokenFile))
	return nil
}

func (e *cmdEnv) serve(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if c.String("data") == "" {
		return fmt.Errorf("serve needs --data DIR (made by ssm init)")
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
		Dir: c.String("data"), DB: c.String("db"), Listen: c.String("listen"), Mode: c.String("mode"),
		CloudPath: c.String("cloud-path"), Clock: e.clock, Log: log, RateLimit: rate,
		Ready: func(addr net.Addr, path string) {
			fmt.Fprintf(e.stdout, "serving %s agent endpoint https://%s%s and admin API https://%s/api/v1/\n", c.String("mode"), addr, path, addr)
		},
	})
}

func (e *cmdEnv) accountCreate(c *cli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if err := s.CreateAccount(c.Context, name, e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created smart account %q\n", name)
		return nil
	})
}

func (e *cmdEnv) accountList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Accounts(c.Context)
		if err != nil {
			return err
		}
		return e.show(c, list, func(w io.Writer) {
			fmt.Fprintln(w, "SMART ACCOUNT\tVIRTUAL ACCOUNTS")
			for _, a := range list {
				fmt.Fprintf(w, "%s\t%s\n", a.Name, strings.Join(a.VirtualAccounts, ", "))
			}
		})
	})
}

func (e *cmdEnv) vaCreate(c *cli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if err := s.CreateVA(c.Context, c.String("account"), name, e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created virtual account %q in smart account %q\n", name, c.String("account"))
		return nil
	})
}

func (e *cmdEnv) licenseAdd(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	t := licproto.LicenseType(c.String("type"))
	if _, err := reservation.ParsePoolType(c.String("type")); err != nil {
		return fmt.Errorf("license type %q is not one of rms, room, desktop, plr, plr-ec", c.String("type"))
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if err := s.AddLicenses(c.Context, c.String("va"), t, c.Int("count")); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added %d %s licenses to %q\n", c.Int("count"), t, c.String("va"))
		return nil
	})
}

func (e *cmdEnv) licenseList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Licenses(c.Context, c.String("va"))
		if err != nil {
			return err
		}
		return e.show(c, list, func(w io.Writer) {
			fmt.Fprintln(w, "TYPE\tNAME\tPURCHASED\tIN USE\tRESERVED\tAVAILABLE")
			for _, l := range list {
				name := l.Type.DisplayName()
				if !l.Type.Valid() {
					// PLR licenses: shown once the account has any.
					if l.Purchased == 0 && l.Reserved == 0 {
						continue
					}
					name = reservation.LicenseType(l.Type).DisplayName()
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\n", l.Type, name, l.Purchased, l.InUse, l.Reserved, l.Available)
			}
		})
	})
}

func (e *cmdEnv) tokenCreate(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		tok, info, err := s.CreateToken(c.Context, c.String("va"), ssm.TokenOptions{
			ExpiresDays: c.Int("expires-days"), MaxUses: c.Int("uses"), ExportControlled: !c.Bool("no-export-control")}, e.clock.Now())
		if err != nil {
			return err
		}
		uses := "unlimited uses"
		if info.MaxUses > 0 {
			uses = fmt.Sprintf("%d uses", info.MaxUses)
		}
		exp := "allowed"
		if !info.ExportControlled {
			exp = "not allowed"
		}
		fmt.Fprintf(e.stdout, "token %d for virtual account %q: expires %s, %s, export-controlled functionality %s\n",
			info.ID, info.VirtualAccount, info.ExpiresAt.Format(time.RFC3339), uses, exp)
		fmt.Fprintln(e.stdout, tok)
		return nil
	})
}

func (e *cmdEnv) tokenRevoke(c *cli.Context) error {
	tok, err := oneArg(c, "TOKEN")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		info, err := s.RevokeToken(c.Context, tok, e.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked token %d (%s) of virtual account %q\n", info.ID, info.Hint, info.VirtualAccount)
		return nil
	})
}

func (e *cmdEnv) tokenList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Tokens(c.Context, c.String("va"))
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return e.printJSON(list)
		}
		now := e.clock.Now()
		return e.table(func(w io.Writer) {
			fmt.Fprintln(w, "ID\tTOKEN\tSTATUS\tEXPIRES\tUSES\tEXPORT CONTROL")
			for _, t := range list {
				uses := fmt.Sprintf("%d/unlimited", t.Uses)
				if t.MaxUses > 0 {
					uses = fmt.Sprintf("%d/%d", t.Uses, t.MaxUses)
				}
				exp := "allowed"
				if !t.ExportControlled {
					exp = "not allowed"
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Hint, t.Status(now), t.ExpiresAt.Format(time.RFC3339), uses, exp)
			}
		})
	})
}

func (e *cmdEnv) instanceList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Instances(c.Context, c.String("va"))
		if err != nil {
			return err
		}
		if c.Bool("json") {
			if list == nil {
				list = []ssm.Instance{}
			}
			return e.printJSON(list)
		}
		return e.table(func(w io.Writer) {
			fmt.Fprintln(w, "UDI\tVIRTUAL ACCOUNT\tHOSTNAME\tIP\tSTATE\tLAST SEEN")
			for _, in := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", in.UDI, in.VirtualAccount, dash(in.Hostname), dash(in.IP), dash(in.State), in.LastSeen.Format(time.RFC3339))
			}
		})
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *cmdEnv) instanceShow(c *cli.Context) error {
	udi, err := oneArg(c, "UDI")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		in, err := s.Instance(c.Context, udi)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return e.printJSON(in)
		}
		exp := "Allowed"
		if !in.ExportControlled {
			exp = "Not Allowed"
		}
		return e.table(func(w io.Writer) {
			fmt.Fprintf(w, "UDI:\t%s\n", in.UDI)
			fmt.Fprintf(w, "Smart account:\t%s\n", in.SmartAccount)
			fmt.Fprintf(w, "Virtual account:\t%s\n", in.VirtualAccount)
			fmt.Fprintf(w, "Hostname:\t%s\n", dash(in.Hostname))
			fmt.Fprintf(w, "IP:\t%s\n", dash(in.IP))
			fmt.Fprintf(w, "Export-controlled functionality:\t%s\n", exp)
			fmt.Fprintf(w, "Certificate serial:\t%s\n", in.CertSerial)
			fmt.Fprintf(w, "Certificate expires:\t%s\n", in.CertNotAfter.Format(time.RFC3339))
			fmt.Fprintf(w, "Registered:\t%s\n", in.RegisteredAt.Format(time.RFC3339))
			fmt.Fprintf(w, "Registration renewed:\t%s\n", in.RenewedAt.Format(time.RFC3339))
			fmt.Fprintf(w, "Last seen:\t%s\n", in.LastSeen.Format(time.RFC3339))
			fmt.Fprintf(w, "Authorization:\t%s\n", dash(in.State))
			for _, u := range in.Usage {
				fmt.Fprintf(w, "Usage %s:\t%d (%s)\n", u.Type.DisplayName(), u.InUse, u.State)
			}
		})
	})
}

func (e *cmdEnv) instanceRemove(c *cli.Context) error {
	udi, err := oneArg(c, "UDI")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		in, err := s.Instance(c.Context, udi)
		if err != nil {
			return err
		}
		if !c.Bool("yes") {
			fmt.Fprintf(e.stdout, "Remove product instance %s from virtual account %q? Its licenses return at once and the device must register again. Type yes to confirm: ", udi, in.VirtualAccount)
			line, _ := bufio.NewReader(e.stdin).ReadString('\n')
			if strings.TrimSpace(line) != "yes" {
				return errors.New("not removed (confirm with yes, or pass --yes)")
			}
		}
		if err := s.RemoveInstance(c.Context, udi, e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed product instance %s\n", udi)
		return nil
	})
}

func (e *cmdEnv) instanceTransfer(c *cli.Context) error {
	udi, err := oneArg(c, "UDI")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if err := s.TransferInstance(c.Context, udi, c.String("va"), e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "moved product instance %s to virtual account %q\n", udi, c.String("va"))
		return nil
	})
}

func (e *cmdEnv) events(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Events(c.Context, c.String("va"), c.Int("limit"))
		if err != nil {
			return err
		}
		if c.Bool("json") {
			if list == nil {
				list = []ssm.Event{}
			}
			return e.printJSON(list)
		}
		return e.table(func(w io.Writer) {
			fmt.Fprintln(w, "TIME\tEVENT\tUDI\tDETAIL")
			for _, ev := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ev.At.Format(time.RFC3339), ev.Kind, ev.UDI, ev.Detail)
			}
		})
	})
}

// withReservations opens the store and the reservation desk, which needs
// the data directory's CA key.
func (e *cmdEnv) withReservations(c *cli.Context, f func(rs *ssm.Reservations) error) error {
	if c.String("data") == "" {
		return fmt.Errorf("reservation commands need --data DIR: codes are signed with the manager CA key kept there")
	}
	pki, err := ssm.LoadPKI(c.String("data"))
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		rs, err := ssm.NewReservations(s, pki)
		if err != nil {
			return err
		}
		return f(rs)
	})
}

func (e *cmdEnv) reservationAuthorize(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	o, err := ssm.ParseReserveOptions(c.Bool("plr"), c.Bool("export-control"), c.String("license"), c.String("end"))
	if err != nil {
		return err
	}
	return e.withReservations(c, func(rs *ssm.Reservations) error {
		code, info, err := rs.Authorize(c.Context, c.String("va"), c.String("request"), o, e.clock.Now())
		if err != nil {
			return err
		}
		exp := "without"
		if code.ExportControl {
			exp = "with"
		}
		if code.Kind == "PLR" {
			fmt.Fprintf(e.stdout, "PLR authorization code for %s (%s export control); install it on the device with:\n", info.UDI, exp)
			fmt.Fprintf(e.stdout, "  xcommand License Smart Reservation Install \"<code>\"\n")
		} else {
			fmt.Fprintf(e.stdout, "SLR authorization code for %s (%s export control), in transit until you enter the device's confirmation code; install it on the device with:\n", info.UDI, exp)
			fmt.Fprintf(e.stdout, "  xcommand License Smart Reservation Install \"<code>\"   then: ssm reservation confirm --va %s --code HEX\n", c.String("va"))
		}
		fmt.Fprintln(e.stdout, code.Code)
		return nil
	})
}

func (e *cmdEnv) reservationConfirm(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withReservations(c, func(rs *ssm.Reservations) error {
		info, err := rs.Confirm(c.Context, c.String("va"), c.String("code"), e.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "confirmed: %s now holds its reserved licenses\n", info.UDI)
		return nil
	})
}

func (e *cmdEnv) reservationReturn(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withReservations(c, func(rs *ssm.Reservations) error {
		info, err := rs.Return(c.Context, c.String("va"), c.String("code"), e.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "returned: product instance %s removed; its reserved licenses are back in %q\n", info.UDI, c.String("va"))
		return nil
	})
}

func (e *cmdEnv) reservationList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withReservations(c, func(rs *ssm.Reservations) error {
		list, err := rs.List(c.Context, c.String("va"))
		if err != nil {
			return err
		}
		return e.show(c, list, func(w io.Writer) {
			fmt.Fprintln(w, "UDI\tKIND\tRESERVED\tCODES")
			for _, r := range list {
				var codes []string
				for _, cd := range r.Codes {
					codes = append(codes, cd.Issued.Format(time.RFC3339)+" "+cd.State)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.UDI, r.Kind, ssm.CountsText(r.Blocked), strings.Join(codes, "; "))
			}
		})
	})
}
