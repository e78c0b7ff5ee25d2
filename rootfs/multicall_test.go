package rootfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeModule writes files (path relative to the module root -> content)
// into a new module named standin and returns its directory.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module standin\n\ngo 1.26\n"
	for p, s := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMulticallDispatch builds two programs into one binary and runs it
// under each name: each program's own main runs, with its package-level
// state, its files for linux only, and its exit status; an unknown name
// is refused with the list of names.
func TestMulticallDispatch(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a program")
	}
	mod := writeModule(t, map[string]string{
		"cmd/init/main.go": `package main

import (
	"fmt"
	"os"
	"path/filepath"
)

var greeting = "init as " // package-level state of the program

func main() { fmt.Println(greeting + filepath.Base(os.Args[0]) + " " + platform()) }
`,
		"cmd/init/linux.go":   "//go:build linux\n\npackage main\n\nfunc platform() string { return \"linux\" }\n",
		"cmd/init/other.go":   "//go:build !linux\n\npackage main\n\nfunc platform() string { return \"other\" }\n",
		"cmd/init/x_test.go":  "package main\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) {}\n",
		"cmd/xcli/main.go":    "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"strings\"\n)\n\nfunc main() {\n\tfmt.Println(\"xcli \" + strings.Join(os.Args[1:], \" \"))\n\tos.Exit(3)\n}\n",
		"cmd/xcli/helper.go":  "package main\n\nfunc helper() int { return 1 }\n",
		"cmd/xcli/helper2.go": "package main\n\nvar _ = helper()\n",
	})
	progs := []Program{
		{Pkg: "cmd/init", Path: "/init"},
		{Pkg: "cmd/xcli", Path: "/bin/xcli", Links: []string{"xstatus"}},
	}
	work := t.TempDir()
	bin := filepath.Join(work, "out", "vxway-device")
	if err := BuildMulticall(context.Background(), mod, work, bin, progs); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mod, multicallDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the build wrote %s into the source tree (%v)", multicallDir, err)
	}
	run := func(name string, args ...string) (string, int) {
		t.Helper()
		link := filepath.Join(t.TempDir(), name)
		if err := os.Symlink(bin, link); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := exec.Command(link, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("running %s: %v", name, err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}
	for _, tt := range []struct {
		name string
		args []string
		out  string
		code int
	}{
		{"init", nil, "init as init linux\n", 0},
		{"reboot", nil, "init as reboot linux\n", 0},
		{"poweroff", nil, "init as poweroff linux\n", 0},
		{"xcli", []string{"a", "b"}, "xcli a b\n", 3},
		{"xstatus", []string{"SystemUnit"}, "xcli SystemUnit\n", 3},
		{"sh", nil, "sh: not a vxway device program; run it as one of: init, poweroff, reboot, xcli, xstatus\n", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := run(tt.name, tt.args...)
			if out != tt.out || code != tt.code {
				t.Errorf("%s %v: printed %q, exit %d; want %q, exit %d", tt.name, tt.args, out, code, tt.out, tt.code)
			}
		})
	}

	// The same sources give the same bytes.
	again := filepath.Join(t.TempDir(), "vxway-device")
	if err := BuildMulticall(context.Background(), mod, t.TempDir(), again, progs); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(bin)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two multi-call builds of the same sources differ")
	}
}

func TestMulticallRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, tt := range []struct {
		name  string
		files map[string]string
		progs []Program
		want  string
	}{
		{"not main", map[string]string{"cmd/init/a.go": "package lib\n"},
			[]Program{{Pkg: "cmd/init", Path: "/init"}}, "not a main package"},
		{"embeds", map[string]string{
			"cmd/init/a.go":    "package main\n\nimport _ \"embed\"\n\n//go:embed motd\nvar motd string\n\nfunc main() {}\n",
			"cmd/init/motd":    "hello\n",
			"cmd/xcli/main.go": "package main\n\nfunc main() {}\n"},
			[]Program{{Pkg: "cmd/init", Path: "/init"}}, "embeds files (motd)"},
		{"same name twice", map[string]string{
			"cmd/init/a.go":    "package main\n\nfunc main() {}\n",
			"cmd/xcli/main.go": "package main\n\nfunc main() {}\n"},
			[]Program{{Pkg: "cmd/init", Path: "/init"}, {Pkg: "cmd/xcli", Path: "/bin/xcli", Links: []string{"reboot"}}}, "both answer to the name reboot"},
		{"generated directory exists", map[string]string{
			"cmd/init/a.go":        "package main\n\nfunc main() {}\n",
			multicallDir + "/x.go": "package x\n"},
			[]Program{{Pkg: "cmd/init", Path: "/init"}}, "multi-call build generates that directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mod := writeModule(t, tt.files)
			work := t.TempDir()
			out := filepath.Join(work, "bin")
			err := BuildMulticall(context.Background(), mod, work, out, tt.progs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("BuildMulticall = %v, want an error saying %q", err, tt.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Error("a binary was written despite the error")
			}
		})
	}
}
