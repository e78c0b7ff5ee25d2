package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/clock"
	"vxway/upgrade"
)

// upgradeCommand is `upgrade FILE` for root: check a bundle, write it into
// the slot that is not running and restart into it.
func upgradeCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "upgrade",
		Usage:     "install a signed upgrade bundle (.vxu file or http(s) URL) into the other slot and restart into it",
		ArgsUsage: "FILE|URL",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "allow-downgrade", Usage: "install a version below the minimum recorded on persist"},
			&cli.BoolFlag{Name: "no-reboot", Usage: "do not restart; the new version boots at the next restart"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("upgrade takes one FILE or URL argument, the .vxu bundle (upgrade [--allow-downgrade] [--no-reboot] FILE|URL)")
			}
			root := c.String("root")
			src := c.Args().First()
			if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
				fmt.Fprintf(stdout, "upgrade: downloading %s\n", src)
				p, err := upgrade.Download(c.Context, root, src, upgrade.DownloadTimeout)
				if err != nil {
					return err
				}
				defer os.Remove(p)
				src = p
			}
			d := &upgrade.Device{Root: root, ESP: upgrade.LinuxESP{Root: root}, Clock: clock.Real{}, Log: stdout}
			m, err := d.Install(c.Context, src, upgrade.Options{AllowDowngrade: c.Bool("allow-downgrade")})
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
