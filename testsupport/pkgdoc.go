package testsupport

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// PackageDocProblems walks the Go module at root (modulePath is the path
// its go.mod declares) and returns one line per package that lacks a
// package doc comment, naming the package: a library's doc starts with
// "Package <name> ", a command's with "Command ". Directories named
// testdata, or starting with "." or "_", are not packages of the module;
// a directory of test files alone is not a package either.
func PackageDocProblems(root, modulePath string) ([]string, error) {
	var problems []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		p, err := packageDocProblem(path)
		if err != nil {
			return err
		}
		if p != "" {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			problems = append(problems, fmt.Sprintf("%s: %s", filepath.ToSlash(filepath.Join(modulePath, rel)), p))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the packages under %s: %w", root, err)
	}
	sort.Strings(problems)
	return problems, nil
}

// packageDocProblem says what is wrong with the package doc of the Go
// package in dir ("" when nothing is, or when dir holds no package).
func packageDocProblem(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return "", err
	}
	pkg := ""
	var docs []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return "", err
		}
		pkg = af.Name.Name
		if af.Doc != nil {
			docs = append(docs, af.Doc.Text())
		}
	}
	if pkg == "" {
		return "", nil
	}
	want := "Package " + pkg + " "
	if pkg == "main" {
		want = "Command "
	}
	if len(docs) == 0 {
		return fmt.Sprintf("no package doc comment: say what the package is for in a comment starting %q above the package clause of one file", want), nil
	}
	for _, d := range docs {
		if strings.HasPrefix(d, want) {
			return "", nil
		}
	}
	return fmt.Sprintf("the package doc comment does not start %q: %q", want, firstLine(docs[0])), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
