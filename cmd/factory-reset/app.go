package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/clock"
	"vxway/factoryreset"
	"vxway/platform"
)

// errUsage marks a command line that makes no sense.
var errUsage = errors.New("usage")

// errNotTerminal refuses a dialogue nobody can answer.
var errNotTerminal = errors.New("stdin is not a terminal: run factory-reset on the console to answer the prompts, or give the keep flags and --yes (factory-reset --help lists them); nothing was changed")

// rebooter asks the system to reboot.
type rebooter interface {
	Reboot(ctx context.Context) error
}

// env is what the command touches outside itself.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	isTerminal     func(io.Reader) bool
	freeSpace      func(dir string) (int64, error) // nil: not checked
	isMountPoint   func(dir string) (bool, error)  // nil: not checked
	reboot         rebooter
	clock          clock.Clock
	// rebootAnyRoot lets tests reboot (a fake) with a root other than /.
	rebootAnyRoot bool
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, isTerminal: isTerminal, freeSpace: freeSpace, isMountPoint: isMountPoint, reboot: initRebooter{}, clock: clock.Real{}}
	return newApp(e).RunContext(ctx, args)
}

// newApp builds the command line.
func newApp(e env) *cli.App {
	flags := []cli.Flag{}
	for _, i := range factoryreset.Items() {
		flags = append(flags, &cli.BoolFlag{Name: i.Flag(), Aliases: []string{i.LongFlag()}, Usage: i.Usage(), DisableDefaultText: true})
	}
	flags = append(flags,
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "skip the final confirmation (required when stdin is not a terminal); without keep flags nothing is kept", DisableDefaultText: true},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan (what is kept, what is wiped) and change nothing", DisableDefaultText: true},
		&cli.BoolFlag{Name: "status", Usage: "say whether a reset is pending or in progress, or the last result, and exit", DisableDefaultText: true},
		&cli.BoolFlag{Name: "no-reboot", Usage: "record the reset without rebooting: it runs at the next boot", DisableDefaultText: true},
		&cli.BoolFlag{Name: "cancel", Usage: "withdraw a recorded reset that has not started", DisableDefaultText: true},
		&cli.StringFlag{Name: "root", Value: "/", Usage: "device root `DIR` (other than / only for tests and recovery: it never reboots)"},
	)
	return &cli.App{
		Name:                   "factory-reset",
		Usage:                  "reset the device to factory default settings, keeping what you choose",
		UsageText:              "factory-reset [flags]",
		Description:            "Without keep flags it asks, for each item, whether to keep it, then asks for a final\nconfirmation; Ctrl+C cancels before the final confirmation. With flags, the flagged\nitems are kept and the others are not. The reset reboots the device and runs early in\nthe next boot; a power cut during it is resumed at the following boot.",
		Flags:                  flags,
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Reader:                 e.stdin,
		Writer:                 e.stdout,
		ErrWriter:              e.stderr,
		ExitErrHandler:         func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w: %v; see factory-reset --help", errUsage, err)
		},
		Action: func(c *cli.Context) error { return e.action(c) },
	}
}

func (e env) action(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q: factory-reset takes only flags; see factory-reset --help", errUsage, c.Args().First())
	}
	root := c.String("root")
	var keep []factoryreset.Item
	for _, i := range factoryreset.Items() {
		if c.Bool(i.Flag()) {
			keep = append(keep, i)
		}
	}
	for _, only := range []string{"status", "cancel"} {
		if c.Bool(only) && c.NumFlags() > 1+boolInt(c.IsSet("root")) {
			return fmt.Errorf("%w: --%s takes no other flag but --root", errUsage, only)
		}
	}
	persist := filepath.Join(root, "persist")
	if fi, err := os.Stat(persist); err != nil || !fi.IsDir() {
		return fmt.Errorf("not a vxway device: %s is not a mounted persist partition (factory-reset runs on the device)", persist)
	}
	if root == "/" && e.isMountPoint != nil {
		// On the device a request written to an unmounted /persist would
		// be in RAM and gone at the reboot.
		if ok, err := e.isMountPoint(persist); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%s is not mounted, so a reset request would not survive the reboot; check the persist partition (init's console messages); nothing was changed", persist)
		}
	}
	switch {
	case c.Bool("status"):
		st, err := factoryreset.ReadStatus(root)
		if err != nil {
			return err
		}
		fmt.Fprint(e.stdout, st)
		return nil
	case c.Bool("cancel"):
		if err := factoryreset.Withdraw(root); err != nil {
			return err
		}
		if err := platform.NewAlarms(root, e.clock).Clear(platform.AlarmFactoryResetStarted); err != nil {
			fmt.Fprintf(e.stderr, "factory-reset: %v\n", err)
		}
		fmt.Fprintln(e.stdout, "The recorded factory reset was withdrawn; nothing was changed.")
		return nil
	}

	brand := platform.BrandExpressway
	if cfg, err := platform.LoadSystemConfig(root); err != nil {
		fmt.Fprintf(e.stderr, "factory-reset: %v: taking the device for an Expressway\n", err)
	} else {
		brand = cfg.Brand
	}
	plan, err := factoryreset.NewPlan(brand, keep...)
	if err != nil {
		return err
	}
	if c.Bool("dry-run") {
		fmt.Fprint(e.stdout, plan)
		fmt.Fprintln(e.stdout, "Dry run: nothing was changed.")
		return nil
	}
	if _, started, err := factoryreset.ReadProgress(root); err != nil {
		return err
	} else if started {
		return factoryreset.ErrInProgress
	}

	interactive := len(keep) == 0 && !c.Bool("yes")
	if !c.Bool("yes") && !e.isTerminal(e.stdin) {
		return errNotTerminal
	}
	switch {
	case interactive:
		plan, err = factoryreset.NewDialogue(e.stdin, e.stdout).Ask(c.Context, brand)
	case !c.Bool("yes"):
		err = factoryreset.NewDialogue(e.stdin, e.stdout).Confirm(c.Context, plan)
	}
	if err != nil {
		return err
	}
	if err := e.checkRoom(root, plan); err != nil {
		return err
	}
	// From here on Ctrl+C is not heeded: the request is recorded whole
	// or not at all, and the reboot follows.
	if err := factoryreset.Submit(root, plan, e.clock.Now()); err != nil {
		return err
	}
	detail := "factory reset requested, keeping " + keepWords(plan) + "; the device reboots to carry it out"
	if err := platform.NewAlarms(root, e.clock).Raise(platform.AlarmFactoryResetStarted, detail); err != nil {
		fmt.Fprintf(e.stderr, "factory-reset: raising alarm 15009: %v\n", err)
	}
	if c.Bool("no-reboot") || (root != "/" && !e.rebootAnyRoot) {
		fmt.Fprintf(e.stdout, "Factory reset recorded (keeping %s); it runs at the next boot. factory-reset --cancel withdraws it.\n", keepWords(plan))
		return nil
	}
	fmt.Fprintf(e.stdout, "Factory reset recorded (keeping %s). Rebooting to carry it out.\n", keepWords(plan))
	if err := e.reboot.Reboot(c.Context); err != nil {
		werr := factoryreset.Withdraw(root)
		_ = platform.NewAlarms(root, e.clock).Clear(platform.AlarmFactoryResetStarted)
		if werr != nil {
			return fmt.Errorf("rebooting: %w; the reset stays recorded and runs at the next boot (%v)", err, werr)
		}
		return fmt.Errorf("rebooting: %w; the reset was withdrawn and nothing was changed", err)
	}
	return nil
}

// stageMargin is room on persist for the manifest and directories.
const stageMargin = 512 << 10

// checkRoom refuses a plan whose kept items do not fit on persist, where
// they wait while data is recreated.
func (e env) checkRoom(root string, plan factoryreset.Plan) error {
	if e.freeSpace == nil {
		return nil
	}
	need, err := plan.StageSize(root)
	if err != nil {
		return err
	}
	free, err := e.freeSpace(filepath.Join(root, "persist"))
	if err != nil {
		return err
	}
	if need+stageMargin > free {
		return fmt.Errorf("keeping %s needs %s on persist, which has %s free: run factory-reset again keeping fewer items (log files are usually the largest); nothing was changed",
			keepWords(plan), mib(need+stageMargin), mib(free))
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func keepWords(p factoryreset.Plan) string {
	if len(p.Keep) == 0 {
		return "nothing"
	}
	words := make([]string, len(p.Keep))
	for k, i := range p.Keep {
		words[k] = i.String()
	}
	return strings.Join(words, ", ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
