package rootfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// MulticallPath is where the device programs' one binary goes; /init and
// each program's path are symbolic links to it.
const MulticallPath = "/bin/vxway-device"

// multicallDir is the directory, relative to the module root, of the
// packages the multi-call build generates. They exist only in the build's
// overlay, never on disk.
const multicallDir = "multicall.gen"

// haltNames are the names init answers to besides its own (init makes
// /bin/reboot and /bin/poweroff links to /init at boot).
var haltNames = []string{"reboot", "poweroff"}

// BuildMulticall compiles progs into one static binary at out, which
// runs the program its argv[0] names (the base name of the program's
// path, or one of its links). Each program stays its own main package in
// the source tree, built and tested alone; for this build only, its files
// are given to the compiler (through a go build overlay, nothing is
// written into the tree) as a package whose main is renamed Main, and a
// generated main calls the Main of the name it was run as. So the Go
// runtime, the standard library and the packages the programs share are
// in the image once, and a program started after another runs code the
// kernel already holds in memory.
func BuildMulticall(ctx context.Context, moduleDir, workDir, out string, progs []Program) error {
	pkgs, err := listPrograms(ctx, moduleDir, progs)
	if err != nil {
		return err
	}
	modAbs, err := filepath.Abs(moduleDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(modAbs, multicallDir)); err == nil {
		return fmt.Errorf("%s exists in the module: the multi-call build generates that directory; rename yours", multicallDir)
	}
	gen := filepath.Join(workDir, "multicall")
	replace := map[string]string{}
	var mains []multicallMain
	for i, p := range progs {
		lp := pkgs[i]
		ident := "prog" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, strings.ToLower(path.Base(p.Pkg)))
		for _, f := range lp.GoFiles {
			src := filepath.Join(lp.Dir, f)
			b, err := asPackage(src, ident)
			if err != nil {
				return err
			}
			real := filepath.Join(gen, ident, f)
			if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(real), err)
			}
			if err := os.WriteFile(real, b, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", real, err)
			}
			replace[filepath.Join(modAbs, multicallDir, ident, f)] = real
		}
		names := append([]string{path.Base(p.Path)}, p.Links...)
		if p.Path == "/init" {
			names = append(names, haltNames...)
		}
		mains = append(mains, multicallMain{importPath: lp.Module.Path + "/" + multicallDir + "/" + ident, ident: ident, names: names})
	}
	mainSrc, err := multicallMainSource(mains)
	if err != nil {
		return err
	}
	mainReal := filepath.Join(gen, "main.go")
	if err := os.WriteFile(mainReal, mainSrc, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", mainReal, err)
	}
	replace[filepath.Join(modAbs, multicallDir, "main.go")] = mainReal
	ov, err := json.Marshal(map[string]map[string]string{"Replace": replace})
	if err != nil {
		return err
	}
	overlay := filepath.Join(workDir, "multicall-overlay.json")
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", overlay, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(out), err)
	}
	args := append(deviceBuildFlags(), "-overlay="+overlay, "-o", out, "./"+multicallDir)
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = moduleDir
	cmd.Env = deviceEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the device programs into one binary (fix the compile errors below, then build again): %w\n%s", err, bytes.TrimSpace(b))
	}
	return nil
}

// deviceBuildFlags are the go build flags of the device programs: static
// (deviceEnv), stripped, -trimpath, GOAMD64=v1. The tag
// urfave_cli_no_docs leaves out urfave/cli's man-page and Markdown
// generators, whose package initialisation costs tens of milliseconds at
// every start under software emulation and which the device never uses.
func deviceBuildFlags() []string {
	return []string{"build", "-trimpath", "-buildvcs=false", "-tags=urfave_cli_no_docs", "-ldflags=-s -w -buildid="}
}

// listedPackage is what go list says of a program's package.
type listedPackage struct {
	ImportPath string
	Dir        string
	Name       string
	GoFiles    []string
	EmbedFiles []string
	Module     struct{ Path string }
}

// listPrograms asks the go command for each program's source files as the
// device build sees them (linux/amd64, the device tags), in progs' order.
func listPrograms(ctx context.Context, moduleDir string, progs []Program) ([]listedPackage, error) {
	args := []string{"list", "-tags=urfave_cli_no_docs", "-json=ImportPath,Dir,Name,GoFiles,EmbedFiles,Module"}
	for _, p := range progs {
		args = append(args, "./"+p.Pkg)
	}
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = moduleDir
	cmd.Env = deviceEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the device programs' sources: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	byDir := map[string]listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var lp listedPackage
		if err := dec.Decode(&lp); err != nil {
			return nil, fmt.Errorf("reading go list's answer: %w", err)
		}
		byDir[lp.Dir] = lp
	}
	modAbs, err := filepath.Abs(moduleDir)
	if err != nil {
		return nil, err
	}
	var out []listedPackage
	for _, p := range progs {
		lp, ok := byDir[filepath.Join(modAbs, p.Pkg)]
		switch {
		case !ok:
			return nil, fmt.Errorf("go list did not report the device program %s", p.Pkg)
		case lp.Name != "main":
			return nil, fmt.Errorf("device program %s is package %s, not a main package", p.Pkg, lp.Name)
		case len(lp.EmbedFiles) > 0:
			return nil, fmt.Errorf("device program %s embeds files (%s): the multi-call build does not carry them; embed them in a library package the program imports", p.Pkg, strings.Join(lp.EmbedFiles, ", "))
		}
		out = append(out, lp)
	}
	return out, nil
}

// asPackage returns the Go file src as a file of package name, its func
// main renamed Main.
func asPackage(src, name string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, src, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src, err)
	}
	f.Name.Name = name
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
			fd.Name.Name = "Main"
		}
	}
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return nil, fmt.Errorf("rewriting %s: %w", src, err)
	}
	return buf.Bytes(), nil
}

type multicallMain struct {
	importPath, ident string
	names             []string
}

// multicallMainSource is the generated main: argv[0]'s base name picks
// the program.
func multicallMainSource(mains []multicallMain) ([]byte, error) {
	var b strings.Builder
	b.WriteString("// Command vxway-device is the device programs in one binary: argv[0] names the program.\npackage main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"path/filepath\"\n\n")
	seen := map[string]string{}
	var all []string
	for _, m := range mains {
		fmt.Fprintf(&b, "\t%s %q\n", m.ident, m.importPath)
		for _, n := range m.names {
			if prev, dup := seen[n]; dup {
				return nil, fmt.Errorf("device programs %s and %s both answer to the name %s", prev, m.importPath, n)
			}
			seen[n] = m.importPath
			all = append(all, n)
		}
	}
	sort.Strings(all)
	b.WriteString(")\n\nvar programs = map[string]func(){\n")
	for _, m := range mains {
		for _, n := range m.names {
			fmt.Fprintf(&b, "\t%q: %s.Main,\n", n, m.ident)
		}
	}
	fmt.Fprintf(&b, "}\n\nfunc main() {\n\tname := filepath.Base(os.Args[0])\n\tif run, ok := programs[name]; ok {\n\t\trun()\n\t\treturn\n\t}\n\tfmt.Fprintf(os.Stderr, \"%%s: not a vxway device program; run it as one of: %s\\n\", name)\n\tos.Exit(2)\n}\n", strings.Join(all, ", "))
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		return nil, errors.Join(errors.New("formatting the multi-call main"), err)
	}
	return src, nil
}
