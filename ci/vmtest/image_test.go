package vmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"

	"vxway/image"
)

// TestImageChecksAndReproducible checks the sample image with sgdisk -v,
// fsck.vfat -n and e2fsck -n, then builds it twice more, back to back (the
// shared image may be minutes older than the working tree), and compares
// the bytes.
func TestImageChecksAndReproducible(t *testing.T) {
	img := Image(t)
	if err := image.Verify(context.Background(), img); err != nil {
		t.Error(err)
	}
	mod, cfg := variantConfig(t, nil)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	var sums [2][32]byte
	for i := range sums {
		out := filepath.Join(t.TempDir(), "again.img")
		var log bytes.Buffer
		if _, err := image.Build(context.Background(), image.Options{
			Config: cfg, Output: out, ModuleDir: mod, CacheDir: filepath.Join(cache, "vxway"), Log: &log,
		}); err != nil {
			t.Fatalf("build %d: %v\n%s", i+1, err, log.String())
		}
		sums[i] = fileSum(t, out)
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of appliance.toml differ: %x vs %x", sums[0], sums[1])
	}
	files, err := image.ESPFiles(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/EFI/BOOT/BOOTX64.EFI", "/loader/loader.conf", "/loader/entries/vxway-a.conf", "/vxway-a/vmlinuz", "/vxway-a/initramfs.img"} {
		if files[want] == 0 {
			t.Errorf("ESP lacks %s (files: %v)", want, files)
		}
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}
