package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"vxway/ssm"
)

func (e *cmdEnv) reservationCommand() *cli.Command {
	return &cli.Command{
		Name:  "reservation",
		Usage: "license reservation for disconnected devices (PLR and SLR codes)",
		Subcommands: []*cli.Command{
			{Name: "authorize", Usage: "issue an authorization code for a device's request code (printed as the last line)", ArgsUsage: " ",
				Flags: withStoreFlags(vaFlag(),
					&cli.StringFlag{Name: "request", Usage: "the device's request `CODE`", Required: true},
					&cli.BoolFlag{Name: "plr", Usage: "Permanent License Reservation: everything up to the box's capacity"},
					&cli.BoolFlag{Name: "export-control", Usage: "allow export-controlled functionality"},
					&cli.StringFlag{Name: "license", Usage: "Specific License Reservation: `TYPE=N[,TYPE=N...]` (rms, room, desktop)"},
					&cli.StringFlag{Name: "end", Usage: "last day of the specific licenses, `YYYY-MM-DD` (default: perpetual)"},
				), Action: e.reservationAuthorize},
			{Name: "confirm", Usage: "enter the confirmation code a device printed after installing an SLR code", ArgsUsage: " ",
				Flags: withStoreFlags(vaFlag(), &cli.StringFlag{Name: "code", Usage: "confirmation `HEX` (8 digits)", Required: true}), Action: e.reservationConfirm},
			{Name: "return", Usage: "enter a device's return code: its reserved licenses go back to the pool", ArgsUsage: " ",
				Flags: withStoreFlags(vaFlag(), &cli.StringFlag{Name: "code", Usage: "the device's return `CODE`", Required: true}), Action: e.reservationReturn},
			{Name: "list", Usage: "reserved product instances", ArgsUsage: " ", Flags: withOutputFlags(vaFlag()), Action: e.reservationList},
		},
	}
}

// withReservations opens the store and the reservation desk, which needs
// the data directory's CA key.
func (e *cmdEnv) withReservations(c *cli.Context, f func(rs *ssm.Reservations) error) error {
	dir, err := e.dataDir(c)
	if err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("reservation commands need --data DIR (or %s): codes are signed with the manager CA key kept there", envData)
	}
	pki, err := ssm.LoadPKI(dir)
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
		return showList(e, c, list, func(w io.Writer) {
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
