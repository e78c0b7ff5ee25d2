package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"vxway/atomicfile"
	"vxway/platform"
	"vxway/platform/vendorkey"
)

// optionKeyCommand is the vendor's side of VCS option keys: a signing key
// for a lab, and keys issued with it. Images trust the public half through
// appliance.toml [option_keys] public_key_files.
func optionKeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "option-key",
		Usage: "make an option-key signing key and issue option keys with it (the vendor's side)",
		Subcommands: []*cli.Command{
			{
				Name:      "keygen",
				Usage:     "write a new Ed25519 signing key PREFIX.key (0600) and its public half PREFIX.pub",
				ArgsUsage: "PREFIX",
				Action:    optionKeyKeygen,
			},
			{
				Name:  "sign",
				Usage: "issue an option key for a device serial",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "key", Required: true, Usage: "signing key `FILE` (PEM PKCS #8 Ed25519, from keygen or openssl genpkey -algorithm ed25519)"},
					&cli.StringFlag{Name: "serial", Required: true, Usage: "the device's `SERIAL` (8 hex digits, xstatus SystemUnit)"},
					&cli.StringFlag{Name: "option", Required: true, Usage: "option `NAME`, e.g. MSInterop, RichMediaSessions"},
					&cli.IntFlag{Name: "count", Usage: "quantity, for counted options only"},
				},
				Action: optionKeySign,
			},
		},
	}
}

func optionKeyKeygen(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("keygen takes one PREFIX argument, e.g. vxway option-key keygen lab/vendor")
	}
	prefix := c.Args().First()
	for _, p := range []string{prefix + ".key", prefix + ".pub"} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; remove it or choose another PREFIX (a signing key is never overwritten)", p)
		}
	}
	k, err := vendorkey.Generate()
	if err != nil {
		return err
	}
	priv, err := k.MarshalPrivatePEM()
	if err != nil {
		return err
	}
	pub, err := k.MarshalPublicPEM()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(prefix+".key", priv, 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(prefix+".pub", pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s.key (keep it secret) and %s.pub (list it in appliance.toml [option_keys] public_key_files)\n", prefix, prefix)
	return nil
}

func optionKeySign(c *cli.Context) error {
	b, err := os.ReadFile(c.String("key"))
	if err != nil {
		return fmt.Errorf("reading the signing key: %w", err)
	}
	k, err := vendorkey.ParsePrivatePEM(b)
	if err != nil {
		return fmt.Errorf("%s: %w", c.String("key"), err)
	}
	text, err := k.Sign(c.String("serial"), c.String("option"), c.Int("count"))
	if err != nil {
		return err
	}
	if _, err := platform.ParseOptionKey(text, k.Public()); err != nil {
		return fmt.Errorf("the issued key does not verify: %w", err)
	}
	fmt.Fprintln(c.App.Writer, text)
	return nil
}
