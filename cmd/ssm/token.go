package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"vxway/ssm"
)

func (e *cmdEnv) tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "product instance registration tokens",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a token (printed as the last line)", ArgsUsage: " ", Flags: withStoreFlags(vaFlag(),
				&cli.IntFlag{Name: "expires-days", Value: ssm.DefaultTokenDays, Usage: "validity in days (1..365)"},
				&cli.IntFlag{Name: "uses", Usage: "how many registrations the token allows (0: unlimited)"},
				&cli.BoolFlag{Name: "export-control", Usage: "allow export-controlled functionality (without it, a device registered with the token may not use it)"},
				&cli.BoolFlag{Name: "no-export-control", Usage: "do not allow export-controlled functionality, as without --export-control"},
				&cli.StringFlag{Name: "description", Usage: "what the token is for (`TEXT`, at most 100 characters)"},
			), Action: e.tokenCreate},
			{Name: "revoke", Usage: "revoke a token", ArgsUsage: "TOKEN|ID", Flags: withStoreFlags(), Action: e.tokenRevoke},
			{Name: "list", Usage: "list the tokens of a virtual account (masked)", ArgsUsage: " ", Flags: withOutputFlags(vaFlag()), Action: e.tokenList},
		},
	}
}

// exportText says whether export-controlled functionality is allowed.
func exportText(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "not allowed"
}

func (e *cmdEnv) tokenCreate(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if c.Bool("export-control") && c.Bool("no-export-control") {
		return errors.New("token create: give --export-control or --no-export-control, not both")
	}
	return e.withStore(c, func(s *ssm.Store) error {
		tok, info, err := s.CreateToken(c.Context, c.String("va"), ssm.TokenOptions{
			ExpiresDays: c.Int("expires-days"), MaxUses: c.Int("uses"), ExportControlled: c.Bool("export-control"), Description: c.String("description")}, e.clock.Now())
		if err != nil {
			return err
		}
		uses := "unlimited uses"
		if info.MaxUses > 0 {
			uses = fmt.Sprintf("%d uses", info.MaxUses)
		}
		fmt.Fprintf(e.stdout, "token %d for virtual account %q: expires %s, %s, export-controlled functionality %s\n",
			info.ID, info.VirtualAccount, info.ExpiresAt.Format(time.RFC3339), uses, exportText(info.ExportControlled))
		fmt.Fprintln(e.stdout, tok)
		return nil
	})
}

func (e *cmdEnv) tokenRevoke(c *cli.Context) error {
	tok, err := oneArg(c, "TOKEN")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		info, err := s.RevokeToken(c.Context, tok, e.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked token %d (%s) of virtual account %q\n", info.ID, info.Hint, info.VirtualAccount)
		return nil
	})
}

func (e *cmdEnv) tokenList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Tokens(c.Context, c.String("va"))
		if err != nil {
			return err
		}
		now := e.clock.Now()
		return showList(e, c, list, func(w io.Writer) {
			fmt.Fprintln(w, "ID\tTOKEN\tSTATUS\tEXPIRES\tUSES\tEXPORT CONTROL\tDESCRIPTION")
			for _, t := range list {
				uses := fmt.Sprintf("%d/unlimited", t.Uses)
				if t.MaxUses > 0 {
					uses = fmt.Sprintf("%d/%d", t.Uses, t.MaxUses)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Hint, t.Status(now), t.ExpiresAt.Format(time.RFC3339), uses, exportText(t.ExportControlled), dash(t.Description))
			}
		})
	})
}
