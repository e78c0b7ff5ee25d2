package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModulePath(t *testing.T) {
	tests := []struct {
		name, gomod, want string
	}{
		{"plain", "module vxway\n\ngo 1.26.0\n", "vxway"},
		{"leading comment", "// The appliance tooling.\nmodule vxway\n", "vxway"},
		{"trailing comment", "module vxway // the appliance\n", "vxway"},
		{"quoted", "module \"vxway\"\n", "vxway"},
		{"CRLF", "module vxway\r\ngo 1.26.0\r\n", "vxway"},
		{"no trailing newline", "module vxway", "vxway"},
		{"indented", "  module\tvxway\n", "vxway"},
		{"another module", "module vxwayextra\n", "vxwayextra"},
		{"commented out", "// module vxway\nmodule other\n", "other"},
		{"none", "go 1.26.0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := modulePath([]byte(tt.gomod)); got != tt.want {
				t.Errorf("modulePath(%q) = %q, want %q", tt.gomod, got, tt.want)
			}
		})
	}
}

func TestModuleRoot(t *testing.T) {
	top := t.TempDir()
	write := func(rel, s string) {
		t.Helper()
		p := filepath.Join(top, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("src/go.mod", "// vxway\nmodule vxway // appliance\n")
	write("src/cmd/vxway/main.go", "package main\n")
	write("src/testdata/other/go.mod", "module other\n")
	src := filepath.Join(top, "src")
	for _, dir := range []string{"src", "src/cmd/vxway", "src/testdata/other"} {
		got, err := ModuleRoot(filepath.Join(top, dir))
		if err != nil || got != src {
			t.Errorf("ModuleRoot(%s) = %q, %v; want %q", dir, got, err, src)
		}
	}
	if got, err := ModuleRoot(top); err == nil || !strings.Contains(err.Error(), "no go.mod of module vxway") {
		t.Errorf("ModuleRoot above the tree = %q, %v; want an error naming the module", got, err)
	}
	// The tree this test runs in is itself the module.
	here, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(here, "image", "module.go")); err != nil {
		t.Errorf("ModuleRoot(.) = %s, which does not hold image/module.go: %v", here, err)
	}
}
