package platform

import (
	"errors"
	"strings"
	"testing"

	"vxway/xapi"
	"vxway/xapi/xapitest"
)

func TestXAPISessionTimeout(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	clk := newTestClock()
	var tree xapi.Tree
	RegisterXAPI(&tree, root, clk, Hooks{})
	if out, _ := xapitest.Serve(t, &tree, "xconfiguration SystemUnit"); !strings.Contains(out, "SystemUnit SessionTimeout: 30") {
		t.Errorf("default not shown:\n%s", out)
	}
	for _, bad := range []string{"0", "1441", "ten", ""} {
		if _, err := xapitest.Serve(t, &tree, `xconfiguration SystemUnit SessionTimeout: "`+bad+`"`); !errors.Is(err, ErrBadValue) {
			t.Errorf("SessionTimeout %q: %v, want ErrBadValue", bad, err)
		}
	}
	if cfg, _ := LoadSystemConfig(root); cfg.SessionTimeout != 0 {
		t.Errorf("a refused value was stored: %d", cfg.SessionTimeout)
	}
	if _, err := xapitest.Serve(t, &tree, "xconfiguration SystemUnit SessionTimeout: 5"); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadSystemConfig(root)
	if err != nil || cfg.IdleTimeout().Minutes() != 5 {
		t.Errorf("idle timeout %v, %v; want 5 minutes", cfg.IdleTimeout(), err)
	}
}
