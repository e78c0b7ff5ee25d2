package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"vxway/ssm"
)

func (e *cmdEnv) instanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "instance",
		Usage: "registered product instances",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list instances", ArgsUsage: " ",
				Flags: withOutputFlags(&cli.StringFlag{Name: "va", Usage: "only this virtual account"}), Action: e.instanceList},
			{Name: "show", Usage: "show one instance with its usage", ArgsUsage: "UDI", Flags: withOutputFlags(), Action: e.instanceShow},
			{Name: "remove", Usage: "remove an instance (its licenses return at once)", ArgsUsage: "UDI",
				Flags: withStoreFlags(&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"}), Action: e.instanceRemove},
			{Name: "transfer", Usage: "move an instance and its usage to another virtual account", ArgsUsage: "UDI",
				Flags: withStoreFlags(&cli.StringFlag{Name: "va", Usage: "target virtual account `NAME`", Required: true}), Action: e.instanceTransfer},
		},
	}
}

func (e *cmdEnv) eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "history of a virtual account",
		ArgsUsage: " ",
		Flags:     withOutputFlags(vaFlag(), &cli.IntFlag{Name: "limit", Value: ssm.EventsDefaultSize, Usage: "how many of the latest events"}),
		Action:    e.events,
	}
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
		return showList(e, c, list, func(w io.Writer) {
			fmt.Fprintln(w, "UDI\tVIRTUAL ACCOUNT\tHOSTNAME\tIP\tSTATE\tLAST SEEN")
			for _, in := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", in.UDI, in.VirtualAccount, dash(in.Hostname), dash(in.IP), dash(in.State), in.LastSeen.Format(time.RFC3339))
			}
		})
	})
}

func (e *cmdEnv) instanceShow(c *cli.Context) error {
	return e.withInstance(c, func(s *ssm.Store, in *ssm.Instance) error {
		exp := "Allowed"
		if !in.ExportControlled {
			exp = "Not Allowed"
		}
		return e.show(c, in, func(w io.Writer) {
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
	return e.withInstance(c, func(s *ssm.Store, in *ssm.Instance) error {
		if !c.Bool("yes") {
			fmt.Fprintf(e.stdout, "Remove product instance %s from virtual account %q? Its licenses return at once and the device must register again. Type yes to confirm: ", in.UDI, in.VirtualAccount)
			line, _ := bufio.NewReader(e.stdin).ReadString('\n')
			if strings.TrimSpace(line) != "yes" {
				return errors.New("not removed (confirm with yes, or pass --yes)")
			}
		}
		if err := s.RemoveInstance(c.Context, in.UDI, e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed product instance %s\n", in.UDI)
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
		return showList(e, c, list, func(w io.Writer) {
			fmt.Fprintln(w, "TIME\tEVENT\tUDI\tDETAIL")
			for _, ev := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ev.At.Format(time.RFC3339), ev.Kind, ev.UDI, ev.Detail)
			}
		})
	})
}

// withInstance runs f on the store with the instance named by the command's
// one argument, a UDI.
func (e *cmdEnv) withInstance(c *cli.Context, f func(*ssm.Store, *ssm.Instance) error) error {
	udi, err := oneArg(c, "UDI")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		in, err := s.Instance(c.Context, udi)
		if err != nil {
			return err
		}
		return f(s, in)
	})
}
