package rootfs

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrHostPackage reports a host program the build needs that is not
// installed; the message names the Debian package.
var ErrHostPackage = errors.New("host package missing")

// NativeFiles returns entries for a dynamically linked host program placed
// at devPath, plus every shared library ldd resolves for it and the dynamic
// loader, each at the path the program looks for it.
func NativeFiles(ctx context.Context, hostPath, devPath string) ([]Entry, error) {
	if _, err := os.Stat(hostPath); err != nil {
		return nil, fmt.Errorf("%w: %s not found: install the Debian package e2fsprogs (apt-get install -y e2fsprogs)", ErrHostPackage, hostPath)
	}
	f, err := elf.Open(hostPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", hostPath, err)
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				f.Close()
				return nil, fmt.Errorf("reading the interpreter of %s: %w", hostPath, err)
			}
			interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	f.Close()
	entries := []Entry{{Kind: File, Path: devPath, Mode: 0o755, Source: hostPath}}
	if interp == "" {
		return entries, nil // static
	}
	out, err := exec.CommandContext(ctx, "ldd", hostPath).Output()
	if err != nil {
		return nil, fmt.Errorf("listing the libraries of %s with ldd: %w", hostPath, err)
	}
	seen := map[string]bool{}
	add := func(p string) error {
		if seen[p] {
			return nil
		}
		seen[p] = true
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("resolving library %s: %w", p, err)
		}
		entries = append(entries, Entry{Kind: File, Path: p, Mode: 0o755, Source: real})
		return nil
	}
	libs, err := parseLdd(out)
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", hostPath, err)
	}
	for _, l := range libs {
		if err := add(l); err != nil {
			return nil, err
		}
	}
	if err := add(interp); err != nil {
		return nil, err
	}
	return entries, nil
}

// parseLdd returns the resolved library paths of ldd output ("name => path
// (addr)"), without the vdso and the loader line.
func parseLdd(out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, " => ")
		if !ok {
			continue // vdso or the loader itself
		}
		if strings.HasPrefix(rest, "not found") {
			return nil, fmt.Errorf("library %s not found on the host", name)
		}
		p, _, _ := strings.Cut(rest, " ")
		if !filepath.IsAbs(p) {
			continue
		}
		libs = append(libs, p)
	}
	return libs, sc.Err()
}
