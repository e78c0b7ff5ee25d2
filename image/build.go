package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"vxway/appconfig"
	"vxway/rootfs"
	"vxway/slot"
)

// Options configure Build.
type Options struct {
	Config *appconfig.Config
	// Output is the image path; it is written only when the build succeeds.
	Output string
	// ModuleDir is the vxway module root (device program sources, go.mod).
	ModuleDir string
	// ProgramsDir is where the device programs are built from; empty means
	// ModuleDir.
	ProgramsDir string
	// CacheDir keeps slow, input-keyed results (the busybox) across builds.
	CacheDir string
	// SourceDateEpoch is the SOURCE_DATE_EPOCH environment value ("" if
	// unset); it overrides build.source_date_epoch.
	SourceDateEpoch string
	// Log receives progress lines.
	Log io.Writer
}

// Summary describes a built image.
type Summary struct {
	Path          string
	Size          int64
	Allocated     int64
	SHA256        string
	Duration      time.Duration
	Kernel        string
	InitramfsSize int
	CPIOSize      int
	Layout        Layout
	// Bundle is the upgrade bundle written next to the image.
	Bundle string
}

func (s *Summary) String() string {
	return fmt.Sprintf("image      %s\nbundle     %s\nsize       %d MiB (%d bytes)\nallocated  %.1f MiB (%d bytes)\ninitramfs  %.1f MiB (%.1f MiB uncompressed)\nsha256     %s\ntime       %s\n",
		s.Path, s.Bundle, s.Size/mib, s.Size, float64(s.Allocated)/mib, s.Allocated,
		float64(s.InitramfsSize)/mib, float64(s.CPIOSize)/mib, s.SHA256, s.Duration.Round(10*time.Millisecond))
}

// ErrTooBig marks contents that do not fit the configured sizes.
var ErrTooBig = errors.New("contents too big for the configured size")

// Build makes the image. Nothing is written at o.Output unless every stage
// succeeds: the image is built in a temporary file next to it and renamed.
func Build(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	if o.Log == nil {
		o.Log = io.Discard
	}
	c := o.Config
	stage := func(n int, what string) { fmt.Fprintf(o.Log, "[%d/6] %s\n", n, what) }

	stage(1, "checking host packages, kernel and output path")
	if err := RequireHost(PkgSystemdBoot, PkgE2fsprogs); err != nil {
		return nil, err
	}
	buildTime, err := c.BuildTime(o.SourceDateEpoch)
	if err != nil {
		return nil, err
	}
	layout, err := NewLayout(c.Image.SizeMiB, c.Image.ESPMiB, c.Image.PersistMiB)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTooBig, err)
	}
	kernel, err := KernelPath(ctx, c, o.ModuleDir)
	if err != nil {
		return nil, err
	}
	outDir := filepath.Dir(o.Output)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("output %s: cannot create its directory: %w (choose a writable path with -o)", o.Output, err)
	}
	if fi, err := os.Stat(o.Output); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("output %s is a directory: give a file name with -o", o.Output)
	}
	tmpFile, err := os.CreateTemp(outDir, "."+filepath.Base(o.Output)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("output %s is not writable: %w (choose a writable path with -o)", o.Output, err)
	}
	tmp := tmpFile.Name()
	tmpFile.Close()
	os.Remove(tmp) // go-diskfs creates the file itself
	defer os.Remove(tmp)
	signer, err := SigningKey(c, outDir, o.Log)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "vxway-build-")
	if err != nil {
		return nil, fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(work)

	stage(2, "building the initramfs")
	rfs, err := rootfs.Build(ctx, rootfs.Options{
		ModuleDir:   o.ModuleDir,
		ProgramsDir: o.ProgramsDir,
		CacheDir:    o.CacheDir,
		WorkDir:     work,
		Config:      c,
		BuildTime:   buildTime,
		Mke2fs:      PkgE2fsprogs.Find(),
		Log:         o.Log,
	})
	if err != nil {
		return nil, err
	}
	initrd := filepath.Join(work, "initramfs.img")
	if err := os.WriteFile(initrd, rfs.Initramfs, 0o644); err != nil {
		return nil, fmt.Errorf("writing the initramfs: %w", err)
	}

	stage(3, "making the ext4 filesystems (mke2fs)")
	persistImg := filepath.Join(work, "persist.ext4")
	dataImg := filepath.Join(work, "data.ext4")
	for _, fs := range []struct {
		path, label string
		size        int64
	}{{persistImg, PartPersist, layout.PersistSize}, {dataImg, PartData, layout.DataSize}} {
		if err := MakeExt4(ctx, PkgE2fsprogs.Find(), fs.path, fs.label, fs.size, GUID(c.Build.Seed, "fs:"+fs.label), buildTime); err != nil {
			return nil, err
		}
	}

	stage(4, "writing the GPT and the ESP")
	manifest, err := WriteBundle(BundlePath(o.Output, c.Build.SoftwareVersion), signer, BundleInput{
		Product: c.Upgrade.Product, Version: c.Build.SoftwareVersion, BuildTime: buildTime,
		Cmdline: c.Kernel.Cmdline, Kernel: kernel, Initramfs: initrd,
	})
	if err != nil {
		return nil, err
	}
	espFiles := SlotESPFiles(slot.A, c.Build.SoftwareVersion, c.Kernel.Cmdline, kernel, initrd, manifest)
	espFiles = append([]ESPFile{
		{Path: "/EFI/BOOT/BOOTX64.EFI", Source: PkgSystemdBoot.Find()},
		{Path: "/" + slot.LoaderConfPath, Data: []byte(slot.LoaderConf())},
	}, espFiles...)
	// The ESP keeps room for the second slot an upgrade writes.
	slotB := SlotESPFiles(slot.B, c.Build.SoftwareVersion, c.Kernel.Cmdline, kernel, initrd, manifest)
	if err := checkESPFits(append(append([]ESPFile(nil), espFiles...), slotB...), layout.ESPSize); err != nil {
		return nil, err
	}
	if err := writeDisk(tmp, layout, c.Build.Seed, buildTime, espFiles); err != nil {
		return nil, err
	}

	stage(5, "copying persist and data into their partitions")
	if err := fixESP(tmp, layout.ESPStart); err != nil {
		return nil, err
	}
	if err := copySparse(tmp, persistImg, layout.PersistStart()); err != nil {
		return nil, err
	}
	if err := copySparse(tmp, dataImg, layout.DataStart()); err != nil {
		return nil, err
	}

	stage(6, "checksumming and moving into place")
	sum, alloc, err := finish(tmp)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, o.Output); err != nil {
		return nil, fmt.Errorf("moving the image to %s: %w", o.Output, err)
	}
	return &Summary{
		Path: o.Output, Size: layout.Size, Allocated: alloc, SHA256: sum,
		Duration: time.Since(start), Kernel: kernel,
		InitramfsSize: len(rfs.Initramfs), CPIOSize: rfs.CPIOSize, Layout: layout,
		Bundle: BundlePath(o.Output, c.Build.SoftwareVersion),
	}, nil
}

// KernelPath returns the configured bzImage, or the vmlinuz of the pinned
// github.com/gokrazy/kernel.amd64 module (downloading the module when the
// module cache lacks it).
func KernelPath(ctx context.Context, c *appconfig.Config, moduleDir string) (string, error) {
	if c.Kernel.Path != "" {
		if _, err := os.Stat(c.Kernel.Path); err != nil {
			return "", fmt.Errorf("kernel %s not found: set [kernel] path to a bzImage, or leave it empty for the pinned gokrazy kernel", c.Kernel.Path)
		}
		return c.Kernel.Path, nil
	}
	const mod = "github.com/gokrazy/kernel.amd64"
	dir, err := goOut(ctx, moduleDir, "list", "-m", "-f", "{{.Dir}}", mod)
	if err == nil && dir == "" {
		dir, err = goOut(ctx, moduleDir, "mod", "download", "-json", mod)
		if err == nil {
			dir = jsonField(dir, "Dir")
		}
	}
	if err != nil {
		return "", fmt.Errorf("finding the kernel module %s (is it in go.mod?): %w", mod, err)
	}
	p := filepath.Join(dir, "vmlinuz")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kernel %s not found in module %s: set [kernel] path to a bzImage", p, mod)
	}
	return p, nil
}

func goOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

// jsonField picks `"key": "value"` out of go's indented JSON output.
func jsonField(js, key string) string {
	for _, line := range strings.Split(js, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, `"`+key+`": `); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(v, ","))
			if err == nil {
				return s
			}
		}
	}
	return ""
}

// MakeExt4 makes an ext4 filesystem image file of size bytes with Debian's
// mke2fs, reproducibly: fixed UUID and hash seed, E2FSPROGS_FAKE_TIME, root
// owned by 0:0.
func MakeExt4(ctx context.Context, mke2fs, path, label string, size int64, uuid string, t time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("sizing %s: %w", path, err)
	}
	f.Close()
	uuid = strings.ToLower(uuid)
	cmd := exec.CommandContext(ctx, mke2fs, "-q", "-F", "-t", "ext4", "-b", "4096", "-L", label, "-U", uuid,
		"-E", "hash_seed="+uuid+",root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0,nodiscard", "-m", "0", path)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME="+strconv.FormatInt(t.Unix(), 10), "MKE2FS_DEVICE_SECTSIZE=512")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("making ext4 %s with mke2fs: %w: %s", label, err, bytes.TrimSpace(out))
	}
	return nil
}

// ESPFile is a file to put on the ESP, from a host file or from memory.
type ESPFile struct {
	Path   string
	Source string
	Data   []byte
}

func (f ESPFile) size() (int64, error) {
	if f.Data != nil {
		return int64(len(f.Data)), nil
	}
	fi, err := os.Stat(f.Source)
	if err != nil {
		return 0, fmt.Errorf("reading %s for %s: %w", f.Source, f.Path, err)
	}
	return fi.Size(), nil
}

// checkESPFits compares the files with the ESP size, keeping room for the
// FATs, directories and the loader's random seed.
func checkESPFits(files []ESPFile, espSize int64) error {
	var total int64
	for _, f := range files {
		n, err := f.size()
		if err != nil {
			return err
		}
		total += n
	}
	overhead := espSize/64 + 2*mib
	if total+overhead > espSize {
		return fmt.Errorf("%w: the ESP needs %.1f MiB (systemd-boot and two slots of kernel and initramfs) but image.esp_mib is %d: raise image.esp_mib to at least %d (and image.size_mib with it)",
			ErrTooBig, float64(total+overhead)/mib, espSize/mib, (total+overhead)*64/63/mib+1)
	}
	return nil
}

// writeDisk creates the disk file, its GPT and the FAT32 ESP.
func writeDisk(path string, l Layout, seed string, t time.Time, files []ESPFile) error {
	return WithSourceDateEpoch(t, func() error { return writeDiskAt(path, l, seed, files) })
}

func writeDiskAt(path string, l Layout, seed string, files []ESPFile) (err error) {
	d, err := diskfs.Create(path, l.Size, diskfs.SectorSize512)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer func() {
		if cerr := d.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing %s: %w", path, cerr)
		}
	}()
	sect := func(b int64) uint64 { return uint64(b / sectorSize) }
	table := &gpt.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		ProtectiveMBR:      true,
		GUID:               GUID(seed, "disk"),
		Partitions: []*gpt.Partition{
			{Index: 1, Start: sect(l.ESPStart), End: sect(l.ESPStart+l.ESPPartSize()) - 1, Type: gpt.EFISystemPartition, Name: PartESP, GUID: GUID(seed, "part:"+PartESP)},
			{Index: 2, Start: sect(l.PersistStart()), End: sect(l.PersistStart()+l.PersistSize) - 1, Type: gpt.LinuxFilesystem, Name: PartPersist, GUID: GUID(seed, "part:"+PartPersist)},
			{Index: 3, Start: sect(l.DataStart()), End: sect(l.DataStart()+l.DataSize) - 1, Type: gpt.LinuxFilesystem, Name: PartData, GUID: GUID(seed, "part:"+PartData)},
		},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("writing the GPT: %w", err)
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: filesystem.TypeFat32, VolumeLabel: PartESP, Reproducible: true})
	if err != nil {
		return fmt.Errorf("making the FAT32 ESP: %w", err)
	}
	return writeESPFiles(fs, files)
}

// writeESPFiles creates files in the ESP fs, with their directories.
func writeESPFiles(fs filesystem.FileSystem, files []ESPFile) error {
	made := map[string]bool{}
	for _, f := range files {
		for _, dir := range parents(f.Path) {
			if made[dir] {
				continue
			}
			if err := fs.Mkdir(dir); err != nil {
				return fmt.Errorf("ESP: creating %s: %w", dir, err)
			}
			made[dir] = true
		}
		data := f.Data
		if data == nil {
			var err error
			data, err = os.ReadFile(f.Source)
			if err != nil {
				return fmt.Errorf("reading %s: %w", f.Source, err)
			}
		}
		w, err := fs.OpenFile(f.Path, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("ESP: creating %s: %w", f.Path, err)
		}
		if _, err := w.Write(data); err != nil {
			w.Close()
			return fmt.Errorf("ESP: writing %s: %w", f.Path, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("ESP: closing %s: %w", f.Path, err)
		}
	}
	return nil
}

// parents lists the directories above p, outermost first ("/a/b/c" ->
// "/a", "/a/b").
func parents(p string) []string {
	var out []string
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

// copySparse writes src into the disk file at offset, skipping all-zero
// blocks so the image stays sparse.
func copySparse(diskPath, src string, offset int64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(diskPath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", diskPath, err)
	}
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	var pos int64
	for {
		n, rerr := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, err := out.WriteAt(buf[:n], offset+pos); err != nil {
				out.Close()
				return fmt.Errorf("writing %s into the image: %w", filepath.Base(src), err)
			}
		}
		pos += int64(n)
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			out.Close()
			return fmt.Errorf("reading %s: %w", src, rerr)
		}
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", diskPath, err)
	}
	return nil
}

// finish syncs the file and returns its sha256 and allocated bytes.
func finish(path string) (sum string, allocated int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", 0, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", 0, fmt.Errorf("checksumming %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return "", 0, fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), Allocated(fi), nil
}

func fixESP(path string, start int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if err := fixFAT32(f, start); err != nil {
		f.Close()
		return fmt.Errorf("finishing the ESP: %w", err)
	}
	return f.Close()
}
