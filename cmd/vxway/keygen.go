package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/bundle"
	"vxway/image"
)

// keygenCommand makes the key pair that signs upgrade bundles.
func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:      "keygen",
		Usage:     "write a new Ed25519 upgrade signing key NAME.key (0600) and its public half NAME.pub",
		ArgsUsage: "NAME",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("keygen takes one NAME argument, e.g. vxway keygen keys/release")
			}
			p := strings.TrimSuffix(c.Args().First(), ".key") + ".key"
			if err := image.MakeKeyPair(p); err != nil {
				return err
			}
			b, err := os.ReadFile(image.PublicKeyPath(p))
			if err != nil {
				return err
			}
			pub, err := bundle.ParsePublicPEM(b)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s (keep it secret) and %s (key id %s)\nappliance.toml: [upgrade] signing_key_file = %q, public_key_files = [%q]\n",
				p, image.PublicKeyPath(p), bundle.KeyID(ed25519.PublicKey(pub)), p, image.PublicKeyPath(p))
			return nil
		},
	}
}
