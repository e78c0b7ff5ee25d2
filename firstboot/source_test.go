package firstboot

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	seedfmt "vxway/firstboot/seed"
	"vxway/testsupport"
	"vxway/vm"

	"vxway/clock"
)

func TestSeedDiskRoundTrip(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "seed.img")
	seed := []byte(testsupport.FullSeed(t))
	if err := vm.WriteSeedDisk(img, seed); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSeedDisk(img)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(seed) {
		t.Fatalf("read back %q, want %q", got, seed)
	}
	// An independent reader agrees: fsck.vfat and mtools.
	if fsck, err := exec.LookPath("fsck.vfat"); err == nil {
		if out, err := exec.Command(fsck, "-n", img).CombinedOutput(); err != nil {
			t.Errorf("fsck.vfat -n: %v\n%s", err, out)
		}
	} else {
		t.Log("fsck.vfat not installed; skipping the independent check")
	}
	if mtype, err := exec.LookPath("mtype"); err == nil {
		out, err := exec.Command(mtype, "-i", img, "::"+seedfmt.File).Output()
		if err != nil || string(out) != string(seed) {
			t.Errorf("mtype read %q, %v", out, err)
		}
		label, err := exec.Command("mlabel", "-s", "-i", img, "::").Output()
		if err != nil || !containsFold(string(label), seedfmt.Label) {
			t.Errorf("mlabel -s: %q, %v", label, err)
		}
	} else {
		t.Log("mtools not installed; skipping the independent check")
	}
	// The output path is replaced whole.
	if err := vm.WriteSeedDisk(img, []byte("version = 1\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadSeedDisk(img); string(got) != "version = 1\n" {
		t.Fatalf("rewritten disk holds %q", got)
	}
	if err := vm.WriteSeedDisk(filepath.Join(dir, "missing", "seed.img"), seed); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 32
		}
		if 'a' <= y && y <= 'z' {
			y -= 32
		}
		if x != y {
			return false
		}
	}
	return true
}

// deviceRoot lays out a root with the block devices of writeDisks.
func deviceRoot(t *testing.T, seed []byte) string {
	t.Helper()
	root := t.TempDir()
	writeDisks(t, root, seed)
	return root
}

// writeDisks gives root sys/class/block entries and dev files, the way the
// kernel shows block devices: a disk that is not a seed, a partition too
// short to hold a sector, a loop device and, unless seed is nil, a seed
// "device" that is a real FAT image written by WriteSeedDisk.
func writeDisks(t *testing.T, root string, seed []byte) {
	t.Helper()
	for _, d := range []string{"sys/class/block/vda", "sys/class/block/vda1", "sys/class/block/loop0", "sys/class/block/vdb", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// vda: a disk that is not a seed; vda1: too short to hold a sector.
	if err := os.WriteFile(filepath.Join(root, "dev/vda"), make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dev/vda1"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if seed != nil {
		if err := vm.WriteSeedDisk(filepath.Join(root, "dev/vdb"), seed); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiskSource(t *testing.T) {
	seed := []byte("version = 1\ninstance_id = \"x\"\n")
	src := &DiskSource{Root: deviceRoot(t, seed)}
	got, err := src.Read(context.Background())
	if err != nil || string(got) != string(seed) {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if src.Name() != "VXPROV disk /dev/vdb" {
		t.Errorf("Name = %q", src.Name())
	}
	none := &DiskSource{Root: deviceRoot(t, nil)}
	if _, err := none.Read(context.Background()); !errors.Is(err, ErrNoSeed) {
		t.Fatalf("Read without seed disk = %v, want ErrNoSeed", err)
	}
	if _, err := (&DiskSource{Root: t.TempDir()}).Read(context.Background()); !errors.Is(err, ErrNoSeed) {
		t.Fatalf("Read without sysfs = %v, want ErrNoSeed", err)
	}
}

// TestReadForeignSeedDisks reads seed disks made by other tools: dosfstools
// and mtools, FAT12, FAT16 and FAT32, as a user of another hypervisor
// would make them.
func TestReadForeignSeedDisks(t *testing.T) {
	mkfs, err1 := exec.LookPath("mkfs.vfat")
	mcopy, err2 := exec.LookPath("mcopy")
	if err1 != nil || err2 != nil {
		t.Skip("mkfs.vfat or mcopy not installed")
	}
	seed := []byte(testsupport.FullSeed(t))
	for _, tt := range []struct {
		fat   string
		label string
		mib   int64
	}{{"12", "VXPROV", 1}, {"16", "VXPROV", 16}, {"32", "VXPROV", 40}} {
		t.Run("FAT"+tt.fat, func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "seed.img")
			if err := os.WriteFile(filepath.Join(dir, "p.toml"), seed, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			f.Truncate(tt.mib << 20)
			f.Close()
			if out, err := exec.Command(mkfs, "-F", tt.fat, "-n", tt.label, img).CombinedOutput(); err != nil {
				t.Fatalf("mkfs.vfat: %v\n%s", err, out)
			}
			if out, err := exec.Command(mcopy, "-i", img, filepath.Join(dir, "p.toml"), "::provision.toml").CombinedOutput(); err != nil {
				t.Fatalf("mcopy: %v\n%s", err, out)
			}
			got, err := ReadSeedDisk(img)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(seed) {
				t.Fatalf("read %d bytes, want %d", len(got), len(seed))
			}
		})
	}
	if _, err := ReadSeedDisk(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file read as a seed disk")
	}
}

// tinySeedDisk is a 64 KiB FAT12 seed disk made with mkfs.vfat and mcopy
// (testdata/fat12-seed.img.gz), holding a two-line provision.toml.
func tinySeedDisk(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open("testdata/fat12-seed.img.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTinySeedDisk(t *testing.T) {
	v, err := openFAT(bytes.NewReader(tinySeedDisk(t)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.readFile(seedfmt.File, seedfmt.MaxBytes)
	if err != nil || string(b) != "version = 1\ninstance_id = \"f\"\n" {
		t.Fatalf("readFile = %q, %v", b, err)
	}
	if _, err := v.readFile("other.toml", seedfmt.MaxBytes); !errors.Is(err, errNoFile) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := v.readFile(seedfmt.File, 4); err == nil {
		t.Fatal("a file over the limit was read")
	}
}

// FuzzReadFAT feeds the FAT reader damaged volumes: it must answer or
// fail, never hang or crash. The inputs are kept small (the fuzzer slows
// down and minimizes for minutes on a 64 KiB disk): a volume is read as
// its bytes followed by zeros, so a few hundred bytes describe a disk of
// any size.
func FuzzReadFAT(f *testing.F) {
	trim := func(b []byte) []byte { return bytes.TrimRight(b, "\x00") }
	content := []byte("version = 1\ninstance_id = \"f\"\n")
	f.Add(trim(craftedFAT(f, 16, nil, content)))
	a := make([]uint16, 13)
	f.Add(trim(craftedFAT(f, 16, [][]byte{lfnEntry(0x42, a), lfnEntry(0x01, a), lfnEntry(0x01, a)}, content)))
	f.Fuzz(func(t *testing.T, b []byte) {
		sector := b
		if len(sector) > 512 {
			sector = sector[:512]
		}
		fatLabel(sector)
		v, err := openFAT(zeroPadded(b))
		if err != nil {
			return
		}
		if got, err := v.readFile(seedfmt.File, seedfmt.MaxBytes); err == nil && len(got) > seedfmt.MaxBytes {
			t.Fatalf("read %d bytes over the limit", len(got))
		}
	})
}

// zeroPadded reads as its bytes followed by zeros, up to 1 GiB.
type zeroPadded []byte

func (z zeroPadded) ReadAt(p []byte, off int64) (int, error) {
	const size = 1 << 30
	if off < 0 || off >= size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > size-off {
		n = int(size - off)
	}
	clear(p[:n])
	if off < int64(len(z)) {
		copy(p[:n], z[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestSeedDiskWithoutSeedFile(t *testing.T) {
	root := deviceRoot(t, nil)
	img := filepath.Join(root, "dev/vdb")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 20)
	f.Close()
	mkfs, err := exec.LookPath("mkfs.vfat")
	if err != nil {
		t.Skip("mkfs.vfat not installed")
	}
	if out, err := exec.Command(mkfs, "-n", "VXPROV", img).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var log bytes.Buffer
	p := &provisioner{root: root, log: &log, clock: clock.NewFake(bootTime), sources: []Source{&DiskSource{Root: root}}}
	if err := p.apply(context.Background()); err == nil {
		t.Fatal("an empty seed disk was accepted")
	}
	if !strings.Contains(log.String(), "seed from VXPROV disk /dev/vdb rejected") || !strings.Contains(log.String(), "has no provision.toml") {
		t.Errorf("console:\n%s", log.String())
	}
}
