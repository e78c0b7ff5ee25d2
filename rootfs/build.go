package rootfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"vxway/appconfig"
	"vxway/platform"
)

// Program is an on-device Go program built from this module.
type Program struct {
	// Pkg is the package directory relative to the module root, e.g. "cmd/xcli".
	Pkg string
	// Path is where the binary goes on the device.
	Path string
	// Links are extra names (in the binary's directory) that point to it.
	Links []string
}

// DevicePrograms lists the vxway programs every image carries.
func DevicePrograms() []Program {
	return []Program{
		{Pkg: "cmd/init", Path: "/init"},
		{Pkg: "cmd/smartagent", Path: "/bin/smartagent"},
		{Pkg: "cmd/sipserver", Path: "/bin/sipserver"},
		{Pkg: "cmd/factory-reset", Path: "/bin/factory-reset"},
		{Pkg: "cmd/xcli", Path: "/bin/xcli", Links: []string{"xcommand", "xconfiguration", "xstatus", "xshell", "passwd", "upgrade"}},
	}
}

// CoreCommands lists the u-root commands of the root shell, built into one
// busybox binary /bin/bb with a link per command in /bin.
func CoreCommands() []string {
	core := []string{"cat", "chmod", "cp", "date", "df", "dmesg", "echo", "free", "gosh", "grep",
		"head", "hostname", "ip", "kill", "ln", "ls", "mkdir", "mount", "mv", "ps", "rm",
		"sleep", "sync", "tail", "touch", "umount", "uname", "wc", "pwd", "find", "more",
		"readlink", "sort", "tee", "uptime", "dd", "du", "md5sum", "shasum", "hexdump", "which"}
	var out []string
	for _, c := range core {
		out = append(out, "github.com/u-root/u-root/cmds/core/"+c)
	}
	return append(out, "github.com/u-root/u-root/cmds/exp/ed")
}

// Options configure Build.
type Options struct {
	// ModuleDir is the root of the vxway module (holds go.mod and cmd/).
	ModuleDir string
	// ProgramsDir is the module root the device programs are built from;
	// empty means ModuleDir. Tests point it at a module of stand-ins.
	ProgramsDir string
	// CacheDir keeps slow results keyed by their inputs (the busybox).
	CacheDir string
	// WorkDir is an empty scratch directory.
	WorkDir string
	// Config is the build configuration.
	Config *appconfig.Config
	// BuildTime stamps every file and image.json.
	BuildTime time.Time
	// Mke2fs is the host's mke2fs (default /usr/sbin/mke2fs); it and its
	// libraries are copied into the image.
	Mke2fs string
	// Log receives one line per stage.
	Log io.Writer
}

// Result is a built initramfs.
type Result struct {
	Entries []Entry
	// CPIOSize is the size of the uncompressed archive.
	CPIOSize int
	// Initramfs is the zstd-compressed archive the kernel loads.
	Initramfs []byte
}

// ErrMissingProgram reports device programs whose source is not there.
var ErrMissingProgram = errors.New("device program missing")

// Build compiles the device programs and the busybox, gathers mke2fs and the
// build facts, and returns the compressed initramfs.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Mke2fs == "" {
		o.Mke2fs = "/usr/sbin/mke2fs"
	}
	if o.ProgramsDir == "" {
		o.ProgramsDir = o.ModuleDir
	}
	progs := DevicePrograms()
	if err := CheckPrograms(o.ProgramsDir, progs); err != nil {
		return nil, err
	}
	t0 := time.Now()
	device := filepath.Join(o.WorkDir, "bin", path.Base(MulticallPath))
	if err := BuildMulticall(ctx, o.ProgramsDir, o.WorkDir, device, progs); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "  device programs built into one binary (%s)\n", since(t0))

	t0 = time.Now()
	bbPath, cached, err := Busybox(ctx, o.ModuleDir, o.CacheDir, CoreCommands())
	if err != nil {
		return nil, err
	}
	how := "built"
	if cached {
		how = "cached"
	}
	fmt.Fprintf(o.Log, "  u-root busybox %s (%s)\n", how, since(t0))

	entries := []Entry{{Kind: File, Path: MulticallPath, Mode: 0o755, Source: device}}
	for _, p := range progs {
		entries = append(entries, Entry{Kind: Symlink, Path: p.Path, Target: relLink(p.Path, MulticallPath)})
		for _, l := range p.Links {
			entries = append(entries, Entry{Kind: Symlink, Path: path.Join(path.Dir(p.Path), l), Target: path.Base(p.Path)})
		}
	}
	entries = append(entries, Entry{Kind: File, Path: "/bin/bb", Mode: 0o755, Source: bbPath})
	for _, c := range CoreCommands() {
		entries = append(entries, Entry{Kind: Symlink, Path: "/bin/" + filepath.Base(c), Target: "bb"})
	}
	entries = append(entries, Entry{Kind: Symlink, Path: "/bin/sh", Target: "gosh"})

	native, err := NativeFiles(ctx, o.Mke2fs, "/sbin/mke2fs")
	if err != nil {
		return nil, err
	}
	entries = append(entries, native...)
	if _, err := os.Stat("/etc/mke2fs.conf"); err == nil {
		entries = append(entries, Entry{Kind: File, Path: "/etc/mke2fs.conf", Mode: 0o644, Source: "/etc/mke2fs.conf"})
	}

	// The device's fixed accounts, so that ps and ls show their names.
	entries = append(entries,
		Entry{Kind: File, Path: "/etc/passwd", Mode: 0o644, Data: platform.PasswdFile()},
		Entry{Kind: File, Path: "/etc/group", Mode: 0o644, Data: platform.GroupFile()})

	facts, err := Facts(o.Config, o.BuildTime)
	if err != nil {
		return nil, err
	}
	entries = append(entries, facts...)
	for _, d := range []string{"/data", "/dev", "/etc", "/persist", "/proc", "/root", "/run", "/sys", "/tmp", "/var"} {
		mode := uint32(0o755)
		if d == "/tmp" {
			mode = 0o1777
		}
		entries = append(entries, Entry{Kind: Dir, Path: d, Mode: mode})
	}

	sorted, err := Sort(entries)
	if err != nil {
		return nil, err
	}
	var raw bytes.Buffer
	if err := WriteCPIO(&raw, sorted, o.BuildTime); err != nil {
		return nil, err
	}
	z, err := Compress(raw.Bytes())
	if err != nil {
		return nil, err
	}
	return &Result{Entries: sorted, CPIOSize: raw.Len(), Initramfs: z}, nil
}

// Compress returns b as one zstd frame (deterministic: one encoder
// goroutine, fixed level). The kernel's CONFIG_RD_ZSTD reads it.
func Compress(b []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(1<<22))
	if err != nil {
		return nil, fmt.Errorf("starting zstd: %w", err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, make([]byte, 0, len(b)/2)), nil
}

// Decompress undoes Compress, refusing archives over 1 GiB.
func Decompress(z []byte) ([]byte, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("starting zstd: %w", err)
	}
	defer dec.Close()
	b, err := dec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("decompressing the initramfs: %w", err)
	}
	return b, nil
}

// CheckPrograms reports every device program whose package directory has
// no Go source yet, so a build stops with a list instead of shipping an
// image without them.
func CheckPrograms(moduleDir string, progs []Program) error {
	var errs []error
	for _, p := range progs {
		matches, _ := filepath.Glob(filepath.Join(moduleDir, p.Pkg, "*.go"))
		n := 0
		for _, m := range matches {
			if !strings.HasSuffix(m, "_test.go") {
				n++
			}
		}
		if n == 0 {
			errs = append(errs, fmt.Errorf("%w: %s has no Go source (the image needs %s at %s; build again once it exists)", ErrMissingProgram, p.Pkg, filepath.Base(p.Pkg), p.Path))
		}
	}
	return errors.Join(errs...)
}

// deviceEnv is the environment of every device build.
func deviceEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1", "GOFLAGS=")
}

// goTool is the go command; the GOTOOL environment variable overrides the
// one on PATH.
func goTool() string {
	if g := os.Getenv("GOTOOL"); g != "" {
		return g
	}
	return "go"
}

// relLink is the relative target of a symbolic link at from pointing to
// to (both absolute device paths): "bin/vxway-device" from /init,
// "vxway-device" from /bin/xcli.
func relLink(from, to string) string {
	rel, err := filepath.Rel(path.Dir(from), to)
	if err != nil {
		return to
	}
	return filepath.ToSlash(rel)
}

func since(t time.Time) string {
	return time.Since(t).Round(10 * time.Millisecond).String()
}

func hashStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
