// Package xapitest serves xAPI lines to a tree in the tests of the
// packages that register handlers, the way the admin's shell would.
package xapitest

import (
	"context"
	"strings"
	"testing"

	"vxway/xapi"
)

// Serve parses line and serves it on tree, returning what the handlers
// wrote and the tree's error; a line that does not parse fails the test.
func Serve(t testing.TB, tree *xapi.Tree, line string) (string, error) {
	t.Helper()
	req, err := xapi.ParseLine(line)
	if err != nil {
		t.Fatalf("parsing %q: %v", line, err)
	}
	var b strings.Builder
	err = tree.Serve(context.Background(), req, xapi.NewWriter(&b))
	return b.String(), err
}
