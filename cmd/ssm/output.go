package main

import (
	"encoding/json"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// writeJSON writes v as indented JSON: every JSON output of ssm goes
// through it.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// showList prints list as a JSON array with --json (an empty list as []),
// otherwise the table that text writes.
func showList[T any](e *cmdEnv, c *cli.Context, list []T, text func(w io.Writer)) error {
	if list == nil {
		list = []T{}
	}
	return e.show(c, list, text)
}

// show prints v as JSON with --json, otherwise the table that text writes.
// Listings go through showList.
func (e *cmdEnv) show(c *cli.Context, v any, text func(w io.Writer)) error {
	if jsonOutput(c) {
		return writeJSON(e.stdout, v)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}
