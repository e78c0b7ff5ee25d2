package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"vxway/ssm"
)

func (e *cmdEnv) initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a data directory: CA, server certificate, answer signing key, admin token, database",
		ArgsUsage: " ",
		Flags: withStoreFlags(
			&cli.StringSliceFlag{Name: "san", Usage: "server DNS `NAME`s and IP addresses (comma separated or repeated)", Required: true},
		),
		Action: e.initDir,
	}
}

func (e *cmdEnv) initDir(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	dir, err := e.dataDir(c)
	if err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("init needs --data DIR (or %s)", envData)
	}
	var sans []string
	for _, s := range c.StringSlice("san") {
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				sans = append(sans, n)
			}
		}
	}
	dsn, err := e.database(c)
	if err != nil {
		return err
	}
	if err := ssm.InitDir(dir, sans, e.clock.Now()); err != nil {
		return err
	}
	s, err := ssm.OpenStore(c.Context, dsn)
	if err != nil {
		return err
	}
	kind := s.Dialect()
	s.Close()
	if kind == "sqlite" {
		// Token hashes and instance keys: readable by the manager only
		// (SQLite gives its WAL files the database file's mode).
		if err := os.Chmod(dsn, 0o600); err != nil {
			return fmt.Errorf("restricting the database file: %w", err)
		}
	}
	fmt.Fprintf(e.stdout, "created manager data directory %s (database: %s)\n", dir, kind)
	fmt.Fprintf(e.stdout, "CA certificate for device images: %s\n", filepath.Join(dir, ssm.CACertFile))
	fmt.Fprintf(e.stdout, "server certificate names: %s\n", strings.Join(sans, ", "))
	fmt.Fprintf(e.stdout, "admin API bearer token: %s\n", filepath.Join(dir, ssm.AdminTokenFile))
	return nil
}
