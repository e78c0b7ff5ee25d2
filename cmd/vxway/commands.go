package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"vxway/firstboot/seed"
	"vxway/image"
	"vxway/vm"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "boot an image in QEMU with the serial console on this terminal (Ctrl-A X quits)",
		ArgsUsage: "IMAGE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "provision", Usage: "attach a VXPROV disk holding `FILE` as provision.toml"},
			&cli.IntFlag{Name: "https-port", Value: 8443, Usage: "host `PORT` on 127.0.0.1 forwarded to the guest's HTTPS (443); 0 disables"},
			&cli.IntFlag{Name: "ssh-port", Value: 2222, Usage: "host `PORT` on 127.0.0.1 forwarded to the guest's SSH (22); 0 disables"},
			&cli.IntFlag{Name: "sip-port", Value: 0, Usage: "host `PORT` on 127.0.0.1 forwarded (UDP and TCP) to the guest's SIP 5060, and PORT+1 to SIP over TLS 5061; 0 disables"},
			&cli.StringFlag{Name: "rtc", Value: "utc", Usage: "guest clock start: utc, localtime or a `TIME` like 2026-01-01T00:00:00"},
			&cli.IntFlag{Name: "memory", Value: 1024, Usage: "guest RAM in `MiB`"},
			&cli.StringFlag{Name: "accel", Value: "auto", Usage: "auto (KVM when it works), kvm or tcg"},
			&cli.StringSliceFlag{Name: "disk", Usage: "attach another raw `IMAGE` (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("run takes one IMAGE argument, e.g. vxway run out/vxway.img")
			}
			state, err := os.MkdirTemp("", "vxway-run-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(state)
			o := vm.Options{
				Image: c.Args().First(), StateDir: state,
				HTTPSPort: c.Int("https-port"), SSHPort: c.Int("ssh-port"), SIPPort: c.Int("sip-port"),
				RTCBase: c.String("rtc"), MemoryMiB: c.Int("memory"), Accel: c.String("accel"),
				ExtraDisks: c.StringSlice("disk"),
			}
			if p := c.String("provision"); p != "" {
				o.ProvisionDisk = filepath.Join(state, "provision.img")
				if err := vm.MakeProvisionDisk(p, o.ProvisionDisk, time.Now()); err != nil {
					return err
				}
			}
			v, err := vm.New(o)
			if err != nil {
				return err
			}
			defer v.Cleanup()
			fmt.Fprintf(c.App.ErrWriter, "vxway run: %s\n", v.Describe(o))
			cmd := v.Command(c.Context, c.App.Reader, c.App.Writer, c.App.ErrWriter)
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("qemu: %w", err)
			}
			return nil
		},
	}
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "list an image's partitions, ESP files and boot entries",
		ArgsUsage: "IMAGE",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("inspect takes one IMAGE argument")
			}
			return image.Inspect(c.Args().First(), c.App.Writer)
		},
	}
}

func provisionDiskCommand() *cli.Command {
	return &cli.Command{
		Name:      "provision-disk",
		Usage:     "write a VXPROV provisioning disk (raw FAT) holding FILE as provision.toml",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "seed.img", Usage: "disk image `FILE` to write"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("provision-disk takes one FILE argument (the provision.toml to put on the disk)")
			}
			out := c.String("output")
			if err := vm.MakeProvisionDisk(c.Args().First(), out, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s (FAT, label %s, /%s)\n", out, seed.Label, seed.File)
			return nil
		},
	}
}
