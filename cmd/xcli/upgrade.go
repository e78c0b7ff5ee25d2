package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"vxway/clock"
	"vxway/upgrade"
)

// upgradeCommand is `upgrade FILE` for root: check a bundle, write it into
// the slot that is not running and restart into it.
func upgradeCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "upgrade",
		Usage:     "install a signed upgrade bundle (.vxu) into the other slot and restart into it",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "allow-downgrade", Usage: "install a version below the minimum recorded on persist"},
			&cli.BoolFlag{Name: "no-reboot", Usage: "do not restart; the new version boots at the next restart"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("upgrade takes one FILE argument, the .vxu bundle (upgrade [--allow-downgrade] [--no-reboot] FILE)")
			}
			root := c.String("root")
			d := &upgrade.Device{Root: root, ESP: upgrade.LinuxESP{Root: root}, Clock: clock.Real{}, Log: stdout}
			m, err := d.Install(c.Context, c.Args().First(), upgrade.Options{AllowDowngrade: c.Bool("allow-downgrade")})
			if err != nil {
				return err
			}
			if c.Bool("no-reboot") || filepath.Clean(root) != "/" {
				fmt.Fprintf(stdout, "upgrade: %s boots at the next restart\n", m.Version)
				return nil
			}
			fmt.Fprintf(stdout, "upgrade: restarting into %s\n", m.Version)
			return upgrade.RebootDevice()
		},
	}
}
