// Package deptest checks the boundaries between vxway's programs: which
// packages each program may link. The rules themselves are in this
// package's test, so `go test ./...` enforces them; a forbidden import
// fails the test with the chain of imports that brought it in.
package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// Rule forbids a program (a main package) to link some packages.
type Rule struct {
	// Program is the import path of the main package.
	Program string
	// Forbidden lists import paths; a path ending in "/..." also forbids
	// everything below it.
	Forbidden []string
	// Why is shown with a violation.
	Why string
}

// Violation is one forbidden package a program links, with the chain of
// imports from the program to it.
type Violation struct {
	Program string
	Package string
	Chain   []string
	Why     string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s links %s (%s): %s", v.Program, v.Package, v.Why, strings.Join(v.Chain, " -> "))
}

type listed struct {
	ImportPath string
	Imports    []string
}

// Check lists each rule's program with `go list -deps` in dir and returns
// every forbidden package it links. overlay, when not empty, is a
// `go list -overlay` file, which lets a test add an import without
// touching the tree.
func Check(dir, overlay string, rules []Rule) ([]Violation, error) {
	var out []Violation
	for _, r := range rules {
		deps, err := list(dir, overlay, r.Program)
		if err != nil {
			return nil, err
		}
		for _, p := range sortedKeys(deps) {
			if forbidden(p, r.Forbidden) {
				out = append(out, Violation{Program: r.Program, Package: p, Chain: chain(deps, r.Program, p), Why: r.Why})
			}
		}
	}
	return out, nil
}

func list(dir, overlay, pkg string) (map[string][]string, error) {
	args := []string{"list", "-deps", "-json=ImportPath,Imports"}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w\n%s", pkg, err, stderr.String())
	}
	deps := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var l listed
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list output for %s: %w", pkg, err)
		}
		deps[l.ImportPath] = l.Imports
	}
	return deps, nil
}

func forbidden(p string, rules []string) bool {
	for _, f := range rules {
		if base, ok := strings.CutSuffix(f, "/..."); ok {
			if p == base || strings.HasPrefix(p, base+"/") {
				return true
			}
		} else if p == f {
			return true
		}
	}
	return false
}

// chain finds the shortest import chain from root to target.
func chain(deps map[string][]string, root, target string) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == target {
			var c []string
			for ; p != ""; p = prev[p] {
				c = append(c, p)
			}
			slices.Reverse(c)
			return c
		}
		for _, q := range deps[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return []string{root, "...", target}
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
