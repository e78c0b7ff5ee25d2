package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"vxway/bundle"
	"vxway/image"
	"vxway/rootfs"
	"vxway/slot"
	"vxway/vm"
)

// The boot floor: what the firmware, the boot loader and the pinned kernel
// take before any vxway code runs. A copy of the image gets a slot B
// whose entry comes first (as after an upgrade) with the image's kernel
// and command line and the probe (./probe) as /init, in two initramfs:
//
//   - "empty": the probe alone;
//   - "image": the image's own initramfs with the probe in place of init.
//
// The probe prints its start in CLOCK_BOOTTIME (from kernel start, the
// clock of init's "ready in") and how long programs take to start.

// probeRun is one floor boot.
type probeRun struct {
	// initramfs is the compressed size the kernel unpacked.
	initramfs int
	// toInit is QEMU start to the probe's first line (host clock);
	// kernelToInit is kernel start to the probe's start (guest clock).
	toInit, kernelToInit time.Duration
	// runs are the wall times of each start of a program, by name ("go":
	// a small Go program, "device": the device binary).
	runs map[string][]time.Duration
}

type floorFigures struct {
	accel        string
	empty, image probeRun
}

// measureFloor builds the probe from the module at src and boots a copy
// of img with each initramfs.
func measureFloor(ctx context.Context, src, img, work string) (floorFigures, error) {
	var f floorFigures
	probe := filepath.Join(work, "probe")
	b := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", probe, "./ci/bench/image/probe")
	b.Dir = src
	b.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := b.CombinedOutput(); err != nil {
		return f, fmt.Errorf("building the probe: %w\n%s", err, out)
	}
	esp := func(name string) ([]byte, error) { return image.ReadESPFile(img, "/"+slot.A.ID()+"/"+name) }
	kernel, err := esp(bundle.PartKernel)
	if err != nil {
		return f, err
	}
	mb, err := esp(slot.ManifestFile)
	if err != nil {
		return f, err
	}
	m, err := bundle.ParseManifest(mb)
	if err != nil {
		return f, err
	}
	initrd, err := esp(bundle.PartInitramfs)
	if err != nil {
		return f, err
	}
	empty, err := probeInitramfs(nil, probe)
	if err != nil {
		return f, err
	}
	own, err := probeInitramfs(initrd, probe)
	if err != nil {
		return f, err
	}
	for i, c := range []struct {
		initrd []byte
		out    *probeRun
	}{{empty, &f.empty}, {own, &f.image}} {
		dir := filepath.Join(work, fmt.Sprintf("floor%d", i+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return f, err
		}
		cp := filepath.Join(dir, "probe.img")
		if out, err := exec.CommandContext(ctx, "cp", "--sparse=always", img, cp).CombinedOutput(); err != nil {
			return f, fmt.Errorf("copying %s: %w: %s", img, err, out)
		}
		err := image.AddESPFiles(cp, []image.ESPFile{
			{Path: "/" + slot.EntriesDir + "/" + slot.EntryFile(slot.B, -1, -1), Data: []byte(slot.Entry(slot.B, m.Version, 2, m.Cmdline))},
			{Path: "/" + slot.B.ID() + "/" + bundle.PartKernel, Data: kernel},
			{Path: "/" + slot.B.ID() + "/" + bundle.PartInitramfs, Data: c.initrd},
		})
		if err != nil {
			return f, err
		}
		r, accel, err := bootProbe(ctx, cp, dir)
		if err != nil {
			return f, fmt.Errorf("floor boot %d: %w", i+1, err)
		}
		r.initramfs = len(c.initrd)
		*c.out, f.accel = r, accel
	}
	return f, nil
}

// probeInitramfs is the initramfs of the image (nil: none) with the probe
// as /init, compressed as the build compresses it.
func probeInitramfs(initrd []byte, probe string) ([]byte, error) {
	var entries []rootfs.Entry
	if initrd != nil {
		cpio, err := rootfs.Decompress(initrd)
		if err != nil {
			return nil, err
		}
		if entries, err = rootfs.ReadCPIO(cpio); err != nil {
			return nil, err
		}
	}
	entries = append(slices.DeleteFunc(entries, func(e rootfs.Entry) bool { return e.Path == "/init" }), rootfs.Entry{Kind: rootfs.File, Path: "/init", Mode: 0o755, Source: probe})
	if initrd == nil {
		entries = append(entries, rootfs.Entry{Kind: rootfs.Dir, Path: "/dev", Mode: 0o755})
	}
	var buf bytes.Buffer
	if err := rootfs.WriteCPIO(&buf, entries, time.Unix(0, 0)); err != nil {
		return nil, err
	}
	return rootfs.Compress(buf.Bytes())
}

// bootProbe boots img and reads the probe's lines until it is done.
func bootProbe(ctx context.Context, img, state string) (probeRun, string, error) {
	r := probeRun{runs: map[string][]time.Duration{}}
	v, err := startVM(ctx, vm.Options{Image: img, StateDir: state}, 3*time.Minute)
	if err != nil {
		return r, "", err
	}
	defer v.Close()
	var tail []string
	sc := v.Lines
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		tail = append(tail[max(0, len(tail)-19):], line)
		rest, ok := strings.CutPrefix(line, "probe: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		switch {
		case len(f) == 3 && f[0] == "init" && f[1] == "start":
			r.toInit = time.Since(v.Start)
			r.kernelToInit = nanos(f[2])
		case len(f) > 2 && f[0] == "run":
			for _, s := range f[2:] {
				r.runs[f[1]] = append(r.runs[f[1]], nanos(s))
			}
		case rest == "done":
			v.Drain()
			if r.kernelToInit == 0 {
				return r, v.Accel, errors.New("the probe did not report its start")
			}
			return r, v.Accel, nil
		default:
			return r, v.Accel, fmt.Errorf("the probe failed: %s", rest)
		}
	}
	return r, v.Accel, fmt.Errorf("QEMU ended or timed out before the probe was done; last console lines:\n%s", strings.Join(tail, "\n"))
}

func nanos(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n)
}

// print writes the floor figures against the boot's targets.
func (f floorFigures) print(out io.Writer) {
	ms := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	fmt.Fprintf(out, "boot floor (%s): initramfs of the probe alone (%.1f MiB): QEMU start to init start %s (target for ready <= %s), kernel start to init start %s (target for ready <= %s)\n",
		f.accel, mibf(int64(f.empty.initramfs)), ms(f.empty.toInit), targetBoot, ms(f.empty.kernelToInit), targetKernelReady)
	fmt.Fprintf(out, "boot floor (%s): the image's initramfs (%.1f MiB) with the probe as init: QEMU start to init start %s, kernel start to init start %s\n",
		f.accel, mibf(int64(f.image.initramfs)), ms(f.image.toInit), ms(f.image.kernelToInit))
	runs := func(name string) string {
		d := f.image.runs[name]
		if len(d) == 0 {
			return "not run"
		}
		next := make([]string, 0, len(d)-1)
		for _, x := range d[1:] {
			next = append(next, ms(x))
		}
		return fmt.Sprintf("first %s, then %s", ms(d[0]), strings.Join(next, ", "))
	}
	fmt.Fprintf(out, "boot floor (%s): a program's start inside the VM: a small Go program %s; the device binary (xcli --help) %s\n", f.accel, runs("go"), runs("device"))
}
