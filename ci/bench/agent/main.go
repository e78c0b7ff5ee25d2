// Command agent measures the Smart Licensing agent at idle: it builds the
// smartagent binary as the image does (static, stripped), starts it on a
// scratch device root with Smart Licensing on, lets it settle, and prints
// its resident memory (target: at most 20 MiB) and binary size.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"vxway/agent"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench agent:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "agent-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "smartagent")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "vxway/cmd/smartagent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOAMD64=v1")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building smartagent: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	cmd := exec.CommandContext(ctx, bin, "--root", root)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "serving the local API") {
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	c := agent.NewClient(filepath.Join(root, agent.SocketPath))
	if err := c.Enable(ctx); err != nil {
		return err
	}
	for i := range 50 {
		if err := c.SetUsage(ctx, agent.TypeRMS, i); err != nil {
			return err
		}
		if _, err := c.Status(ctx); err != nil {
			return err
		}
	}
	time.Sleep(5 * time.Second) // let the agent go idle before measuring
	rss, err := vmRSS(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "smartagent idle RSS: %.1f MiB (target <= 20 MiB)\n", float64(rss)/1024)
	fmt.Fprintf(stdout, "smartagent binary: %.1f MiB (static, stripped)\n", float64(fi.Size())/(1<<20))
	if rss > 20*1024 {
		return fmt.Errorf("idle RSS %d KiB is over the 20 MiB target", rss)
	}
	return nil
}

// vmRSS reads a process's resident set size in KiB.
func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("parsing VmRSS %q: %w", v, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
