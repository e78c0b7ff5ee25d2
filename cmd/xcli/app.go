package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/clock"
	"vxway/platform"
	"vxway/xapi"
	"vxway/xshell"
)

// rootEnv names the environment variable that points the programs at a
// device tree other than /, for tests on the host.
const rootEnv = "VXWAY_ROOT"

// progName is the name the program runs under; a login shell's leading
// "-" (as in "-xshell") is not part of it.
func progName(args []string) string {
	if len(args) == 0 {
		return "xcli"
	}
	return strings.TrimPrefix(filepath.Base(args[0]), "-")
}

// run dispatches on the program name: under xcommand, xconfiguration,
// xstatus, xshell or passwd it runs that command with the arguments; under
// any other name the first argument names the command.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	name := progName(args)
	rest := []string{}
	if len(args) > 1 {
		rest = args[1:]
	}
	switch name {
	case "xcommand", "xconfiguration", "xstatus", "xshell", "passwd", "upgrade":
		return newApp(stdin, stdout, stderr).RunContext(ctx, append([]string{"xcli", name}, rest...))
	}
	return newApp(stdin, stdout, stderr).RunContext(ctx, append([]string{"xcli"}, rest...))
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	rootFlag := &cli.StringFlag{
		Name:    "root",
		Value:   "/",
		Usage:   "device root directory (for tests)",
		EnvVars: []string{rootEnv},
		Hidden:  true,
	}
	oneShot := func(kind xapi.Kind, usage string) *cli.Command {
		return &cli.Command{
			Name:            kind.String(),
			Usage:           usage,
			ArgsUsage:       "[<path> ...] [<Name>: <value> ...]",
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				tree := xshell.NewTree(c.String("root"), clock.Real{})
				return xshell.RunArgs(c.Context, tree, kind, c.Args().Slice(), stdout)
			},
		}
	}
	return &cli.App{
		Name:      "xcli",
		Usage:     "the device's administrator CLI (also run as xcommand, xconfiguration, xstatus, xshell, passwd, upgrade)",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     []cli.Flag{rootFlag},
		// Errors are returned to main, which alone decides the exit code.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			oneShot(xapi.Command, "run an xAPI command"),
			oneShot(xapi.Configuration, "show or change configuration"),
			oneShot(xapi.Status, "show status"),
			{
				Name:  "xshell",
				Usage: "interactive xAPI shell",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "prompt", Usage: "print the prompt even when input is not a terminal"}},
				Action: func(c *cli.Context) error {
					sh := &xshell.Shell{Tree: xshell.NewTree(c.String("root"), clock.Real{}), In: stdin, Out: stdout}
					if c.Bool("prompt") || isTerminal(stdin) {
						sh.Prompt = xshell.Prompt
					}
					if isTerminal(stdin) {
						// Ctrl-C drops the line being typed (the terminal
						// does that); it must not end the admin's session.
						signal.Ignore(os.Interrupt)
					}
					if err := sh.Run(c.Context); err != nil {
						return err
					}
					// A script fed on standard input (ssh admin@device
					// 'xstatus Alarm') fails when one of its requests did.
					if n := sh.Failed(); n > 0 && sh.Prompt == "" {
						return fmt.Errorf("%w: %d of the requests answered ERROR", xshell.ErrFailed, n)
					}
					return nil
				},
			},
			{
				Name:      "passwd",
				Usage:     "change the root or admin password",
				ArgsUsage: "[root|admin]",
				Action: func(c *cli.Context) error {
					return passwd(c.String("root"), c.Args().Slice(), stdin, stdout)
				},
			},
			upgradeCommand(stdout),
		},
	}
}

// ErrMismatch marks two different entries of the new password.
var ErrMismatch = errors.New("the two passwords do not match; the password is unchanged")

func passwd(root string, args []string, stdin io.Reader, stdout io.Writer) error {
	user := platform.UserRoot
	switch len(args) {
	case 0:
	case 1:
		user = args[0]
	default:
		return fmt.Errorf("usage: passwd [root|admin]")
	}
	users := platform.NewUsers(root, clock.Real{})
	if _, err := users.UsingDefault(user); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Changing password for %s.\n", user)
	r := bufio.NewReader(stdin)
	first, err := readSecret(stdin, r, stdout, "New password: ")
	if err != nil {
		return err
	}
	second, err := readSecret(stdin, r, stdout, "Retype new password: ")
	if err != nil {
		return err
	}
	if first != second {
		return ErrMismatch
	}
	if err := users.SetPassword(user, first); err != nil {
		return err
	}
	alarm := platform.AlarmDefaultRootPassword
	if user == platform.UserAdmin {
		alarm = platform.AlarmDefaultAdminPassword
	}
	fmt.Fprintf(stdout, "passwd: password for %s changed; alarm %d (default password) is clear\n", user, alarm)
	return nil
}

// readSecret prompts and reads one line, with echo off when in is a
// terminal.
func readSecret(in io.Reader, r *bufio.Reader, out io.Writer, prompt string) (string, error) {
	// Echo goes off before the prompt shows: a password typed (or sent by
	// a script) as soon as the prompt appears must not be echoed.
	restore := func() {}
	if f, ok := in.(*os.File); ok && isTerminal(in) {
		undo, err := echoOff(f)
		if err != nil {
			return "", err
		}
		restore = undo
	}
	fmt.Fprint(out, prompt)
	line, err := r.ReadString('\n')
	restore()
	fmt.Fprintln(out)
	if errors.Is(err, io.EOF) && line == "" {
		return "", fmt.Errorf("no password given (end of input); the password is unchanged")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
