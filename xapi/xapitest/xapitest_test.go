package xapitest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"vxway/xapi"
)

func TestServe(t *testing.T) {
	tree := &xapi.Tree{}
	tree.Handle(xapi.Status, "Demo", func(_ context.Context, _ *xapi.Request, _ []string, out *xapi.Writer) error {
		out.Status("Demo Value", "7")
		return nil
	})
	out, err := Serve(t, tree, "xstatus Demo")
	if err != nil || !strings.Contains(out, `*s Demo Value: "7"`) {
		t.Errorf("Serve = %q, %v", out, err)
	}
	if _, err := Serve(t, tree, "xstatus Nothing"); !errors.Is(err, xapi.ErrNotFound) {
		t.Errorf("unknown path: %v, want ErrNotFound", err)
	}
}
