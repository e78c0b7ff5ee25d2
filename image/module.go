package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ModulePath is the module path that the vxway source tree's go.mod
// declares.
const ModulePath = "vxway"

// ModuleRoot returns the vxway source tree holding dir: the nearest
// directory at or above it whose go.mod declares module vxway. The build
// compiles the device programs there and finds the pinned kernel through
// its go.mod.
func ModuleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding the vxway source tree: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && modulePath(b) == ModulePath {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of module %s at or above %s", ModulePath, abs)
		}
	}
}

// modulePath returns the path a go.mod declares in its module directive,
// or "" when it has none. It reads the directive as the go command does:
// after any comments, possibly quoted, possibly followed by a comment, with
// either line end.
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) != 2 || f[0] != "module" {
			continue
		}
		if p, err := strconv.Unquote(f[1]); err == nil {
			return p
		}
		return f[1]
	}
	return ""
}
