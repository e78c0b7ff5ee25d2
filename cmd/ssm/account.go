package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/ssm"
)

func (e *cmdEnv) accountCommand() *cli.Command {
	return &cli.Command{
		Name:  "account",
		Usage: "smart accounts",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a smart account", ArgsUsage: "NAME", Flags: withStoreFlags(), Action: e.accountCreate},
			{Name: "list", Usage: "list smart accounts and their virtual accounts", ArgsUsage: " ", Flags: withOutputFlags(), Action: e.accountList},
		},
	}
}

func (e *cmdEnv) vaCommand() *cli.Command {
	return &cli.Command{
		Name:  "va",
		Usage: "virtual accounts",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a virtual account in a smart account", ArgsUsage: "NAME",
				Flags: withStoreFlags(&cli.StringFlag{Name: "account", Usage: "smart account `NAME`", Required: true}), Action: e.vaCreate},
		},
	}
}

// vaFlag returns a new required --va flag.
func vaFlag() cli.Flag {
	return &cli.StringFlag{Name: "va", Usage: "virtual account `NAME`", Required: true}
}

func (e *cmdEnv) accountCreate(c *cli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if err := s.CreateAccount(c.Context, name, e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created smart account %q\n", name)
		return nil
	})
}

func (e *cmdEnv) accountList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Accounts(c.Context)
		if err != nil {
			return err
		}
		return showList(e, c, list, func(w io.Writer) {
			fmt.Fprintln(w, "SMART ACCOUNT\tVIRTUAL ACCOUNTS")
			for _, a := range list {
				fmt.Fprintf(w, "%s\t%s\n", a.Name, strings.Join(a.VirtualAccounts, ", "))
			}
		})
	})
}

func (e *cmdEnv) vaCreate(c *cli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if err := s.CreateVA(c.Context, c.String("account"), name, e.clock.Now()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created virtual account %q in smart account %q\n", name, c.String("account"))
		return nil
	})
}
