package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpgradeMode runs the binary as upgrade (argv[0]) on a device tree:
// usage errors, and a refusal that names its reason and changes nothing.
func TestUpgradeMode(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "Expressway")
	junk := filepath.Join(t.TempDir(), "junk.vxu")
	if err := os.WriteFile(junk, []byte("not a bundle at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no file", nil, "upgrade takes one FILE or URL argument"},
		{"no trusted key", []string{junk}, "this image trusts no upgrade key"},
		{"bad URL", []string{"http://"}, "give an http:// or https:// URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runAs(t, bin, root, "upgrade", "", tt.args...)
			if r.code != 1 || !strings.Contains(r.errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.errOut, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "persist", "upgrade")); !os.IsNotExist(err) {
		t.Errorf("a refused upgrade wrote its record: %v", err)
	}
	r := runAs(t, bin, root, "xstatus", "", "SystemUnit", "Software")
	if r.code != 0 || !strings.Contains(r.out, `*s SystemUnit Software LastUpgrade Result: "none"`) {
		t.Errorf("xstatus SystemUnit Software: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
}
