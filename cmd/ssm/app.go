package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/clock"
	"vxway/ssm"
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return newApp(&cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr, clock: clock.Real{}, getenv: os.Getenv}).RunContext(ctx, args)
}

// cmdEnv carries the injected streams, clock and environment into the
// commands.
type cmdEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	clock  clock.Clock
	getenv func(string) string
}

// Environment variables that stand in for --data and --db. SSM_DB keeps a
// database password out of the process list.
const (
	envData = "SSM_DATA"
	envDB   = "SSM_DB"
)

// newApp builds the command-line app; all output goes to e's writers.
func newApp(e *cmdEnv) *cli.App {
	return &cli.App{
		Name:      "ssm",
		Usage:     "vxway license manager (on-prem and cloud Smart Licensing service)",
		Reader:    e.stdin,
		Writer:    e.stdout,
		ErrWriter: e.stderr,
		// --data, --db and --json go before the command or after it.
		Flags: append(storeFlags(), jsonFlag()),
		// Errors are printed once, by main.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		Commands: []*cli.Command{
			e.initCommand(),
			e.serveCommand(),
			e.accountCommand(),
			e.vaCommand(),
			e.licenseCommand(),
			e.tokenCommand(),
			e.instanceCommand(),
			e.reservationCommand(),
			e.eventsCommand(),
			e.userCommand(),
		},
	}
}

// storeFlags returns new --data and --db flags: the app and every command
// that opens the database has its own, so either place works.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Usage: "manager data `DIR` (CA, keys, admin token, SQLite database); default $" + envData},
		&cli.StringFlag{Name: "db", Usage: "PostgreSQL `URL` (postgres://...) instead of the SQLite file in the data directory; default $" + envDB + ", which keeps a password off the command line"},
	}
}

// jsonFlag returns a new --json flag, for the app and each command that
// prints a listing or a record.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}
}

// withStoreFlags returns flags followed by the --data and --db flags.
func withStoreFlags(flags ...cli.Flag) []cli.Flag {
	return append(flags, storeFlags()...)
}

// withOutputFlags returns flags followed by the --data, --db and --json
// flags.
func withOutputFlags(flags ...cli.Flag) []cli.Flag {
	return append(withStoreFlags(flags...), jsonFlag())
}

// setFlags returns the values of the string flag name given on the command
// line, before the command and after it.
func setFlags(c *cli.Context, name string) []string {
	var vals []string
	for _, x := range c.Lineage() {
		if slices.Contains(x.LocalFlagNames(), name) {
			vals = append(vals, x.String(name))
		}
	}
	return vals
}

// setting returns the string flag name given before or after the command
// (both places must agree), else the environment variable env.
func (e *cmdEnv) setting(c *cli.Context, name, env string) (string, error) {
	vals := setFlags(c, name)
	if len(vals) == 0 {
		return e.getenv(env), nil
	}
	for _, v := range vals[1:] {
		if v != vals[0] {
			// The values are not shown: --db may hold a password.
			return "", fmt.Errorf("--%s is given before and after the command with different values: give it once", name)
		}
	}
	return vals[0], nil
}

// jsonOutput reports whether --json is given before or after the command.
func jsonOutput(c *cli.Context) bool {
	for _, x := range c.Lineage() {
		if slices.Contains(x.LocalFlagNames(), "json") && x.Bool("json") {
			return true
		}
	}
	return false
}

// dataDir returns the data directory (--data or $SSM_DATA), empty when
// none is given.
func (e *cmdEnv) dataDir(c *cli.Context) (string, error) {
	return e.setting(c, "data", envData)
}

// database returns the database to open: the PostgreSQL URL from --db or
// $SSM_DB, else the SQLite file in the data directory.
func (e *cmdEnv) database(c *cli.Context) (string, error) {
	data, err := e.dataDir(c)
	if err != nil {
		return "", err
	}
	db, err := e.setting(c, "db", envDB)
	if err != nil {
		return "", err
	}
	if data == "" && db == "" {
		return "", fmt.Errorf("no database: give --data DIR (made by ssm init) or --db postgres://USER@HOST/DB (or set %s or %s)", envData, envDB)
	}
	return ssm.DBPath(data, db), nil
}

// withStore runs f on the store opened from --data or --db.
func (e *cmdEnv) withStore(c *cli.Context, f func(s *ssm.Store) error) error {
	dsn, err := e.database(c)
	if err != nil {
		return err
	}
	s, err := ssm.OpenStore(c.Context, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}

// oneArg returns the single positional argument named name.
func oneArg(c *cli.Context, name string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s takes one argument, %s (got %d)%s", c.Command.HelpName, name, c.NArg(), flagHint(c, name))
	}
	return c.Args().First(), nil
}

func noArgs(c *cli.Context) error {
	if c.NArg() != 0 {
		return fmt.Errorf("%s takes no arguments (got %q)%s", c.Command.HelpName, c.Args().Slice(), flagHint(c, ""))
	}
	return nil
}

// flagHint explains a flag taken for an argument: flags go before the
// command's arguments.
func flagHint(c *cli.Context, name string) string {
	args := c.Args().Slice()
	if name != "" && len(args) > 0 {
		args = args[1:] // the argument itself may start with "-"
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			if name == "" {
				return fmt.Sprintf(": %s is read as an argument; it belongs before any argument", a)
			}
			return fmt.Sprintf(": %s is read as an argument; put flags before %s", a, name)
		}
	}
	return ""
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
