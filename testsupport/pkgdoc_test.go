package testsupport

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vxway/image"
)

// TestEveryPackageHasDoc holds the module to its style: every package says
// what it is for in a package doc comment.
func TestEveryPackageHasDoc(t *testing.T) {
	root, err := image.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	problems, err := PackageDocProblems(root, image.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func TestPackageDocProblems(t *testing.T) {
	root := t.TempDir()
	WriteFiles(t, root, map[string]string{
		"go.mod":                 "module example\n",
		"good/doc.go":            "// Package good is documented.\npackage good\n",
		"good/more.go":           "package good\n",
		"bare/bare.go":           "package bare\n",
		"bare/bare_test.go":      "// Package bare is documented only in a test.\npackage bare\n",
		"wrong/wrong.go":         "// This package does things.\npackage wrong\n",
		"detached/d.go":          "// Package detached is documented, but not attached.\n\npackage detached\n",
		"cmd/tool/main.go":       "// Command tool does a thing.\npackage main\n",
		"cmd/bad/main.go":        "// Package main is not how a command starts.\npackage main\n",
		"onlytests/x_test.go":    "package onlytests\n",
		"good/testdata/x/x.go":   "package x\n",
		".hidden/h.go":           "package hidden\n",
		"nested/go.mod":          "module other\n",
		"nested/n.go":            "package nested\n",
		"good/sub/sub_linux.go":  "//go:build linux\n\n// Package sub is documented in a build-constrained file.\npackage sub\n",
		"good/sub/sub_common.go": "package sub\n",
	})
	got, err := PackageDocProblems(root, "example")
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, p := range got {
		name, _, _ := strings.Cut(p, ":")
		named = append(named, name)
	}
	want := []string{"example/bare", "example/cmd/bad", "example/detached", "example/wrong"}
	if !slices.Equal(named, want) {
		t.Errorf("packages named = %q, want %q; problems:\n%s", named, want, strings.Join(got, "\n"))
	}
	for _, p := range got {
		if strings.HasPrefix(p, "example/bare:") && !strings.Contains(p, `"Package bare "`) {
			t.Errorf("the problem does not say how the doc starts: %s", p)
		}
	}

	// A broken file is an error, not a pass.
	if err := os.WriteFile(filepath.Join(root, "good/broken.go"), []byte("packag good\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PackageDocProblems(root, "example"); err == nil {
		t.Error("a file that does not parse was passed over")
	}
}
