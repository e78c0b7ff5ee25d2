package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/appconfig"
	"vxway/image"
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	app := newApp(stdin, stdout, stderr)
	words := 2 // program and command
	if len(args) > 1 {
		if c := app.Command(args[1]); c != nil && len(c.Subcommands) > 0 {
			words = 3 // a command group and its subcommand
		}
	}
	return app.RunContext(ctx, flagsFirst(args, words))
}

// flagsFirst moves a subcommand's flags before its arguments, so that
// `vxway provision-disk FILE -o seed.img` works as documented (urfave/cli
// stops parsing flags at the first argument). Every flag of this tool but
// -h/--help takes a value; "--" ends the flags. The first words of args
// (the program and its command words) stay in front.
func flagsFirst(args []string, words int) []string {
	if len(args) <= words {
		return args
	}
	var flags, rest []string
	tail := args[words:]
	for i := 0; i < len(tail); i++ {
		a := tail[i]
		switch {
		case a == "--":
			rest = append(rest, tail[i:]...)
			i = len(tail)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if !strings.Contains(a, "=") && a != "-h" && a != "--help" && i+1 < len(tail) {
				flags = append(flags, tail[i+1])
				i++
			}
		default:
			rest = append(rest, a)
		}
	}
	out := append(slices.Clone(args[:words]), flags...)
	return append(out, rest...)
}

// newApp builds the command-line app; all output goes to the given writers.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "vxway",
		Usage:     "build, boot and inspect the vxway appliance image",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			buildCommand(),
			runCommand(),
			inspectCommand(),
			provisionDiskCommand(),
			optionKeyCommand(),
			keygenCommand(),
		},
	}
}

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build the raw GPT disk image from a build config",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "appliance.toml", Usage: "build configuration `FILE`"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "out/vxway.img", Usage: "image `FILE` to write"},
			&cli.StringFlag{Name: "module", Usage: "vxway source `DIR` (default: the module above the current directory)"},
			&cli.StringFlag{Name: "cache", Usage: "cache `DIR` for slow build steps (default: the user cache dir)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("build takes no arguments (got %q): use -c CONFIG -o IMAGE", c.Args().Slice())
			}
			cfg, err := appconfig.Load(c.String("config"))
			if err != nil {
				return err
			}
			mod, err := moduleDir(c.String("module"))
			if err != nil {
				return err
			}
			cache, err := cacheDir(c.String("cache"))
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "building %s from %s\n", c.String("output"), c.String("config"))
			sum, err := image.Build(c.Context, image.Options{
				Config:          cfg,
				Output:          c.String("output"),
				ModuleDir:       mod,
				CacheDir:        cache,
				SourceDateEpoch: os.Getenv("SOURCE_DATE_EPOCH"),
				Log:             c.App.Writer,
			})
			if err != nil {
				return fmt.Errorf("build: %w", err)
			}
			fmt.Fprint(c.App.Writer, sum)
			return nil
		},
	}
}

// moduleDir returns dir, or the vxway source tree at or above the current
// directory.
func moduleDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	d, err := image.ModuleRoot(".")
	if err != nil {
		return "", fmt.Errorf("%w: run in the source tree or pass --module DIR", err)
	}
	return d, nil
}

func cacheDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache dir (pass --cache DIR): %w", err)
	}
	return filepath.Join(d, "vxway"), nil
}
