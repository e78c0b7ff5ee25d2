// Package rig is what the device benchmarks under ci/bench share: the
// device programs built as the image builds them, a scratch device root,
// stopping the programs the way init does, and their resident memory
// and timings as figures.
package rig

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"vxway/platform"
)

// Device builds the device programs named (packages vxway/cmd/<name>)
// into dir as the image does, static, stripped, for GOAMD64=v1, each
// landing at dir/<name>; and it makes dir/root, which it returns, the
// device root of an Expressway (see expresswayRoot).
func Device(ctx context.Context, dir string, programs ...string) (root string, err error) {
	if err := build(ctx, dir, programs...); err != nil {
		return "", err
	}
	root = filepath.Join(dir, "root")
	return root, expresswayRoot(root)
}

func build(ctx context.Context, dir string, names ...string) error {
	for _, n := range names {
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, n), "vxway/cmd/"+n)
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOAMD64=v1")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", n, err, out)
		}
	}
	return nil
}

// expresswayRoot makes root a device root holding the system
// configuration of an Expressway (host name bench), which comes with
// Smart Licensing on.
func expresswayRoot(root string) error {
	sc := platform.SystemConfig{Hostname: "bench", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}
	return platform.SaveSystemConfig(root, sc)
}

// Stop ends a started program as init does at shutdown (SIGTERM) and
// waits for it, killing it after 10 s. A program never started is left
// alone.
func Stop(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// RSS reads process pid's resident set size in KiB.
func RSS(pid int) (int, error) {
	p := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return parseRSS(string(b), p)
}

func parseRSS(status, p string) (int, error) {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("parsing VmRSS %q in %s: %w", v, p, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in %s", p)
}

// MiB is KiB as mebibytes.
func MiB(kib int) float64 { return float64(kib) / 1024 }

// Median is the middle of ds (the upper one of an even count).
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Ms shows d in milliseconds to a tenth.
func Ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
