package firstboot

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSeedDiskRoundTrip(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "seed.img")
	seed := []byte(fullSeed(t))
	if err := WriteSeedDisk(img, seed); err != nil {
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
		out, err := exec.Command(mtype, "-i", img, "::"+SeedFile).Output()
		if err != nil || string(out) != string(seed) {
			t.Errorf("mtype read %q, %v", out, err)
		}
		label, err := exec.Command("mlabel", "-s", "-i", img, "::").Output()
		if err != nil || !containsFold(string(label), SeedLabel) {
			t.Errorf("mlabel -s: %q, %v", label, err)
		}
	} else {
		t.Log("mtools not installed; skipping the independent check")
	}
	// The output path is replaced whole.
	if err := WriteSeedDisk(img, []byte("version = 1\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadSeedDisk(img); string(got) != "version = 1\n" {
		t.Fatalf("rewritten disk holds %q", got)
	}
	if err := WriteSeedDisk(filepath.Join(dir, "missing", "seed.img"), seed); err == nil {
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

// deviceRoot lays out a root with sys/class/block entries and dev files,
// the way the kernel shows block devices; the seed "device" is a real
// FAT image written by WriteSeedDisk.
func deviceRoot(t *testing.T, seed []byte) string {
	t.Helper()
	root := t.TempDir()
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
		if err := WriteSeedDisk(filepath.Join(root, "dev/vdb"), seed); err != nil {
			t.Fatal(err)
		}
	}
	return root
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
