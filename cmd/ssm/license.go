package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"vxway/licproto"
	"vxway/reservation"
	"vxway/ssm"
)

func (e *cmdEnv) licenseCommand() *cli.Command {
	return &cli.Command{
		Name:  "license",
		Usage: "purchased licenses of a virtual account",
		Subcommands: []*cli.Command{
			{Name: "add", Usage: "add purchased licenses", ArgsUsage: " ", Flags: withStoreFlags(vaFlag(),
				&cli.StringFlag{Name: "type", Usage: "license `TYPE`: rms, desktop, room, or plr / plr-ec (PLR without / with export control)", Required: true},
				&cli.IntFlag{Name: "count", Usage: "how many (1..1000000)", Required: true}), Action: e.licenseAdd},
			{Name: "list", Usage: "purchased, in use, reserved and available licenses per type", ArgsUsage: " ", Flags: withOutputFlags(vaFlag()), Action: e.licenseList},
			{Name: "transfer", Usage: "move available licenses to another virtual account of the same smart account", ArgsUsage: " ", Flags: withStoreFlags(
				&cli.StringFlag{Name: "from", Usage: "virtual account `NAME` the licenses leave", Required: true},
				&cli.StringFlag{Name: "to", Usage: "virtual account `NAME` the licenses go to", Required: true},
				&cli.StringFlag{Name: "type", Usage: "license `TYPE`: rms, desktop, room, plr or plr-ec", Required: true},
				&cli.IntFlag{Name: "count", Usage: "how many", Required: true}), Action: e.licenseTransfer},
		},
	}
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
		return showList(e, c, list, func(w io.Writer) {
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

func (e *cmdEnv) licenseTransfer(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		t := licproto.LicenseType(c.String("type"))
		if err := s.TransferLicenses(c.Context, c.String("from"), c.String("to"), t, c.Int("count"), e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "transferred %d %s licenses from %q to %q\n", c.Int("count"), t, c.String("from"), c.String("to"))
		return nil
	})
}
