package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"vxway/ssm"
)

func (e *cmdEnv) userCommand() *cli.Command {
	return &cli.Command{
		Name:  "user",
		Usage: "portal users (sign-in at /portal/login) and their admin API tokens",
		Subcommands: []*cli.Command{
			{Name: "add", Usage: "add a user; prints a one-time password, changed at first sign-in", ArgsUsage: " ", Flags: withStoreFlags(
				&cli.StringFlag{Name: "name", Usage: "user `NAME` (letters, digits, . _ @ -)", Required: true},
				&cli.StringFlag{Name: "role", Usage: "`ROLE`: manager-admin (everything), account-admin (one smart account, --account), va-user (one virtual account, --va)", Required: true},
				&cli.StringFlag{Name: "account", Usage: "smart account `NAME` of an account-admin"},
				&cli.StringFlag{Name: "va", Usage: "virtual account `NAME` of a va-user"},
			), Action: e.userAdd},
			{Name: "list", Usage: "list the users", ArgsUsage: " ", Flags: withOutputFlags(), Action: e.userList},
			{Name: "delete", Usage: "delete a user and its API tokens (its sessions end at their next request)", ArgsUsage: "NAME", Flags: withStoreFlags(), Action: e.userDelete},
			{Name: "reset-password", Usage: "give a user a new one-time password (printed)", ArgsUsage: "NAME", Flags: withStoreFlags(), Action: e.userResetPassword},
			{Name: "token", Usage: "make an admin API token for a user, scoped like its role (printed once, as the last line)", ArgsUsage: "NAME",
				Flags: withStoreFlags(&cli.BoolFlag{Name: "revoke", Usage: "revoke every API token of the user instead"}), Action: e.userToken},
		},
	}
}

func (e *cmdEnv) userAdd(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		pw, u, err := s.AddUser(c.Context, c.String("name"), ssm.Role(c.String("role")), c.String("account"), c.String("va"), e.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added user %q (%s%s); its one-time password, to be changed at first sign-in, is the last line\n", u.Name, u.Role.Title(), scopeText(u))
		fmt.Fprintln(e.stdout, pw)
		return nil
	})
}

// scopeText names the account a user works in.
func scopeText(u *ssm.User) string {
	switch {
	case u.VA != "":
		return fmt.Sprintf(" of virtual account %q in %q", u.VA, u.Account)
	case u.Account != "":
		return fmt.Sprintf(" of smart account %q", u.Account)
	}
	return ""
}

func (e *cmdEnv) userList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		list, err := s.Users(c.Context)
		if err != nil {
			return err
		}
		return showList(e, c, list, func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tROLE\tSMART ACCOUNT\tVIRTUAL ACCOUNT\tPASSWORD")
			for _, u := range list {
				pw := "changed " + u.PasswordChangedAt.Format(time.RFC3339)
				if u.MustChange {
					pw = "one-time, not yet changed"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, dash(u.Account), dash(u.VA), pw)
			}
		})
	})
}

func (e *cmdEnv) userDelete(c *cli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if err := s.DeleteUser(c.Context, name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted user %q\n", name)
		return nil
	})
}

func (e *cmdEnv) userResetPassword(c *cli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		pw, err := s.ResetPassword(c.Context, name, e.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new one-time password of %q, to be changed at the next sign-in:\n%s\n", name, pw)
		return nil
	})
}

func (e *cmdEnv) userToken(c *cli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	return e.withStore(c, func(s *ssm.Store) error {
		if c.Bool("revoke") {
			n, err := s.RevokeUserTokens(c.Context, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %d API token(s) of %q\n", n, name)
			return nil
		}
		tok, info, err := s.CreateUserToken(c.Context, name, e.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "API token %d (%s) of %q; send it as Authorization: Bearer TOKEN\n%s\n", info.ID, info.Hint, name, tok)
		return nil
	})
}
