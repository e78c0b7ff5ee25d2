// Command image is the benchmark of the image build and boot: it prints
// the cold build time (empty Go build cache and vxway cache), the rebuild
// time after one Go file changes, the image's allocated bytes against its
// size, the initramfs size, and the boot time under QEMU (QEMU start to
// "vxway: ready", and the init's own figure), each against its target.
//
// It works on a copy of the source tree (git archive of HEAD plus the
// working tree's changes are not included), so the tree is never touched:
//
//	go run ./ci/bench/image            # everything
//	go run ./ci/bench/image -cold=false
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vxway/image"
	"vxway/vm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Targets of issue 2, the boot's of issue 14.
const (
	targetRebuild     = 10 * time.Second
	targetAllocated   = 64 << 20
	targetInitramfs   = 24 << 20
	targetBoot        = 7 * time.Second
	targetKernelReady = 2 * time.Second
	targetInitReady   = 300 * time.Millisecond
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cold := fs.Bool("cold", true, "measure a cold build (empty caches; takes minutes)")
	boot := fs.Bool("boot", true, "measure the boot under QEMU")
	given := fs.String("image", "", "only boot this image (a copy of it) and print its boot figures")
	floor := fs.Bool("floor", true, "with the boot, measure the boot floor: the image's kernel with a probe as init")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *given != "" {
		src, err := os.Getwd()
		if err != nil {
			return err
		}
		return bootOnly(ctx, *given, src, *floor, stdout)
	}
	src, err := os.Getwd()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "vxway-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tree := filepath.Join(work, "src")
	if err := snapshot(ctx, src, tree); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vxway image benchmark (source: HEAD of %s, %d CPUs)\n", filepath.Base(src), numCPU())

	if *cold {
		gocache := filepath.Join(work, "gocache")
		d, _, err := buildImage(ctx, tree, filepath.Join(work, "cold.img"), filepath.Join(work, "vxcache"), "GOCACHE="+gocache)
		if err != nil {
			return fmt.Errorf("cold build: %w", err)
		}
		fmt.Fprintf(stdout, "cold build (empty GOCACHE and busybox cache): %s\n", d.Round(100*time.Millisecond))
		os.RemoveAll(gocache)
	}

	userCache, err := os.UserCacheDir()
	if err != nil {
		return err
	}
	vxcache := filepath.Join(userCache, "vxway")
	img := filepath.Join(work, "warm.img")
	if _, _, err := buildImage(ctx, tree, img, vxcache); err != nil {
		return fmt.Errorf("warm build: %w", err)
	}
	touched := filepath.Join(tree, "cmd", "init", "main.go")
	if err := appendLine(touched, "\n// benchmark edit\n"); err != nil {
		return err
	}
	d, out, err := buildImage(ctx, tree, img, vxcache)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	fmt.Fprintf(stdout, "rebuild after editing cmd/init/main.go: %s (target <= %s) %s\n", d.Round(100*time.Millisecond), targetRebuild, verdict(d <= targetRebuild))

	sum := parseSummary(out)
	fi, err := os.Stat(img)
	if err != nil {
		return err
	}
	alloc := image.Allocated(fi)
	fmt.Fprintf(stdout, "image: %d MiB, %.1f MiB allocated (target <= %d MiB) %s\n", fi.Size()>>20, mibf(alloc), targetAllocated>>20, verdict(alloc <= targetAllocated))
	fmt.Fprintf(stdout, "initramfs: %s compressed, %s uncompressed (target <= %d MiB) %s\n", sum["initramfs"], sum["uncompressed"], targetInitramfs>>20, verdict(sum.initramfsBytes() <= targetInitramfs))

	if *boot {
		b, err := bootTime(ctx, img, filepath.Join(work, "vm"))
		if err != nil {
			return fmt.Errorf("boot: %w", err)
		}
		b.print(stdout)
		if *floor {
			return printFloor(ctx, tree, img, work, stdout)
		}
	}
	return nil
}

// bootOnly boots a copy of img (the guest writes to its disk) and prints
// the boot figures, and the floor's with the probe built from src.
func bootOnly(ctx context.Context, img, src string, floor bool, stdout io.Writer) error {
	work, err := os.MkdirTemp("", "vxway-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cp := filepath.Join(work, "boot.img")
	if out, err := exec.CommandContext(ctx, "cp", "--sparse=always", img, cp).CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s: %w: %s", img, err, out)
	}
	b, err := bootTime(ctx, cp, filepath.Join(work, "vm"))
	if err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	b.print(stdout)
	if floor {
		return printFloor(ctx, src, cp, work, stdout)
	}
	return nil
}

// printFloor measures and prints the boot floor of img.
func printFloor(ctx context.Context, src, img, work string, stdout io.Writer) error {
	f, err := measureFloor(ctx, src, img, work)
	if err != nil {
		return fmt.Errorf("boot floor: %w", err)
	}
	f.print(stdout)
	return nil
}

// print writes the boot figures with the host's load average.
func (b bootFigures) print(stdout io.Writer) {
	// Software emulation competes for the CPUs: say how busy they were.
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(stdout, "host load average during the boot: %s\n", strings.Join(strings.Fields(string(la))[:3], " "))
	}
	fmt.Fprintf(stdout, "boot (%s): QEMU start to \"vxway: ready\" %s (target <= %s) %s\n", b.accel, b.toReady.Round(10*time.Millisecond), targetBoot, verdict(b.toReady <= targetBoot))
	fmt.Fprintf(stdout, "boot (%s): kernel start to ready %s (init's \"vxway: ready in\"; target <= %s) %s\n", b.accel, b.kernelToReady, targetKernelReady, verdict(b.kernelToReady <= targetKernelReady))
	if b.initToReady > 0 {
		fmt.Fprintf(stdout, "boot (%s): init start to services up %s (target <= %s) %s\n", b.accel, b.initToReady, targetInitReady, verdict(b.initToReady <= targetInitReady))
	}
	b.printPhases(stdout)
	b.web.print(stdout, b.accel)
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "OVER TARGET"
}

func mibf(n int64) float64 { return float64(n) / (1 << 20) }

func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// snapshot copies HEAD of the git tree at src to dst.
func snapshot(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "-C", src, "archive", "--format=tar", "HEAD")
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", dst)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		return err
	}
	if err := archive.Run(); err != nil {
		return fmt.Errorf("git archive (run in the source tree): %w", err)
	}
	return untar.Wait()
}

func appendLine(p, s string) error {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// buildImage runs what `make image` runs: go build of the host tool, then
// vxway build. It returns the wall time and the build's output.
func buildImage(ctx context.Context, tree, out, cache string, env ...string) (time.Duration, string, error) {
	start := time.Now()
	tool := filepath.Join(tree, "out", "bin", "vxway")
	b := exec.CommandContext(ctx, "go", "build", "-o", tool, "./cmd/vxway")
	b.Dir = tree
	b.Env = append(os.Environ(), env...)
	if o, err := b.CombinedOutput(); err != nil {
		return 0, "", fmt.Errorf("building vxway: %w\n%s", err, o)
	}
	c := exec.CommandContext(ctx, tool, "build", "-c", "appliance.toml", "-o", out, "--cache", cache)
	c.Dir = tree
	c.Env = append(os.Environ(), env...)
	o, err := c.CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("%w\n%s", err, o)
	}
	return time.Since(start), string(o), nil
}

type summary map[string]string

var initramfsRE = regexp.MustCompile(`initramfs\s+([\d.]+) MiB \(([\d.]+) MiB uncompressed\)`)

func parseSummary(out string) summary {
	s := summary{}
	if m := initramfsRE.FindStringSubmatch(out); m != nil {
		s["initramfs"], s["uncompressed"] = m[1]+" MiB", m[2]+" MiB"
	}
	return s
}

func (s summary) initramfsBytes() int64 {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s["initramfs"], " MiB"), 64)
	if err != nil {
		return 1 << 62
	}
	return int64(v * (1 << 20))
}

var (
	readyRE    = regexp.MustCompile(`vxway: ready in (\d+)ms`)
	servicesRE = regexp.MustCompile(`services up (\d+)ms after init start`)
	// loaderRE is OVMF's last line before it starts the boot loader.
	loaderRE = regexp.MustCompile(`BdsDxe: starting `)
)

type bootFigures struct {
	accel                               string
	toReady, kernelToReady, initToReady time.Duration
	// toLoader is QEMU start to the firmware starting systemd-boot.
	toLoader time.Duration
	// steps is init's "boot steps" line.
	steps string
	// web holds the web interface's figures, measured once ready.
	web webFigures
}

// bootTime boots img and measures QEMU start to the ready line, and reads
// the init's own figures from the console.
func bootTime(ctx context.Context, img, state string) (bootFigures, error) {
	var b bootFigures
	port, err := freePort()
	if err != nil {
		return b, err
	}
	v, err := startVM(ctx, vm.Options{Image: img, StateDir: state, HTTPSPort: port}, 5*time.Minute)
	if err != nil {
		return b, err
	}
	defer v.Close()
	b.accel = v.Accel
	start, sc := v.Start, v.Lines
	ms := func(s string) time.Duration { n, _ := strconv.Atoi(s); return time.Duration(n) * time.Millisecond }
	for sc.Scan() {
		if _, st, ok := strings.Cut(sc.Text(), "init: boot steps: "); ok {
			b.steps = st
		}
		if b.toLoader == 0 && loaderRE.MatchString(sc.Text()) {
			b.toLoader = time.Since(start)
		}
		if m := servicesRE.FindStringSubmatch(sc.Text()); m != nil {
			b.initToReady = ms(m[1])
		}
		if m := readyRE.FindStringSubmatch(sc.Text()); m != nil {
			b.toReady, b.kernelToReady = time.Since(start), ms(m[1])
			v.Drain()
			b.web, err = measureWeb(ctx, fmt.Sprintf("https://127.0.0.1:%d", port))
			return b, err
		}
	}
	return b, errors.New("QEMU ended or timed out before \"vxway: ready\"")
}

// printPhases splits QEMU start to ready into the firmware (to OVMF
// starting the loader), the loader (systemd-boot reading the slot's kernel
// and initramfs, to kernel start), the kernel (with the initramfs unpack,
// to init start) and init (to services up).
func (b bootFigures) printPhases(out io.Writer) {
	if b.toLoader == 0 || b.initToReady == 0 {
		return
	}
	kernelStart := b.toReady - b.kernelToReady
	initStart := b.toReady - b.initToReady
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	fmt.Fprintf(out, "boot (%s): phases: firmware %s, loader %s, kernel and initramfs %s, init %s\n", b.accel,
		r(b.toLoader), r(kernelStart-b.toLoader), r(initStart-kernelStart), r(b.initToReady))
	if b.steps != "" {
		fmt.Fprintf(out, "boot (%s): init's steps: %s\n", b.accel, b.steps)
	}
}
