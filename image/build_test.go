package image

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/appconfig"
	"vxway/rootfs"
)

// standIns writes a module of stand-in device programs (each prints its
// name) under a temp dir, so the image pipeline is tested without the real
// programs.
func standIns(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module standin\n\ngo 1.26\n")
	// One stand-in per program the image carries, so that a new
	// program does not break these tests.
	for _, p := range rootfs.DevicePrograms() {
		write(p.Pkg+"/main.go", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"stand-in "+p.Pkg+"\") }\n")
	}
	return dir
}

func testCacheDir(t *testing.T) string {
	if d := os.Getenv("VXWAY_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("no user cache dir: %v", err)
	}
	return filepath.Join(d, "vxway")
}

func sampleConfig(t *testing.T) *appconfig.Config {
	t.Helper()
	c, err := appconfig.Load("../appliance.toml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func buildStandIn(t *testing.T, c *appconfig.Config, out, programs string) (*Summary, error) {
	t.Helper()
	var log bytes.Buffer
	s, err := Build(context.Background(), Options{
		Config: c, Output: out, ModuleDir: "..", ProgramsDir: programs,
		CacheDir: testCacheDir(t), Log: &log,
	})
	t.Logf("build log:\n%s", log.String())
	return s, err
}

func skipWithoutHostPackages(t *testing.T) {
	if err := RequireHost(PkgSystemdBoot, PkgE2fsprogs); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestBuildReproducibleAndValid builds twice from the same inputs, compares
// the bytes, and checks the result with sgdisk, fsck.vfat and e2fsck.
func TestBuildReproducibleAndValid(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two images")
	}
	skipWithoutHostPackages(t)
	progs := standIns(t)
	c := sampleConfig(t)
	dir := t.TempDir()
	a, err := buildStandIn(t, c, filepath.Join(dir, "a.img"), progs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildStandIn(t, c, filepath.Join(dir, "sub", "b.img"), progs)
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 != b.SHA256 {
		t.Errorf("two builds differ: %s vs %s", a.SHA256, b.SHA256)
	}
	// The bundles too (same key: the first build made the development
	// key and named it in the config).
	ba, errA := os.ReadFile(a.Bundle)
	bb, errB := os.ReadFile(b.Bundle)
	if errA != nil || errB != nil || !bytes.Equal(ba, bb) || filepath.Base(a.Bundle) != "vxway-"+c.Build.SoftwareVersion+".vxu" {
		t.Errorf("bundles %s and %s differ or are missing (%v, %v)", a.Bundle, b.Bundle, errA, errB)
	}
	if a.Size != 256<<20 || a.Allocated > 64<<20 {
		t.Errorf("size %d, allocated %d: want 256 MiB with at most 64 MiB allocated", a.Size, a.Allocated)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left next to the output: %v", leftovers)
	}
	CheckImage(t, a.Path)
	checkAddESPFiles(t, a.Path)

	// The checkers must notice damage: break the data superblock.
	f, err := os.OpenFile(b.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1024), b.Layout.DataStart()+1024); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := Verify(context.Background(), b.Path); err == nil || !strings.Contains(err.Error(), "e2fsck on partition data") {
		t.Errorf("Verify of a broken data partition = %v, want an e2fsck error", err)
	}

	// Another seed changes the GUIDs, so the bytes.
	c.Build.Seed = "other"
	o, err := buildStandIn(t, c, filepath.Join(dir, "o.img"), progs)
	if err != nil {
		t.Fatal(err)
	}
	if o.SHA256 == a.SHA256 {
		t.Error("a different seed gave the same image")
	}
}

// CheckImage runs Verify and fails the test on a problem; a missing
// checker skips, or fails under CI.
func CheckImage(t *testing.T, img string) {
	t.Helper()
	err := Verify(context.Background(), img)
	if errors.Is(err, ErrHostPackage) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Error(err)
	}
}

func TestBuildErrors(t *testing.T) {
	skipWithoutHostPackages(t)
	progs := standIns(t)
	tests := []struct {
		name   string
		mutate func(c *appconfig.Config, out *string, progs *string)
		want   string
		is     error
	}{
		{"ESP too small", func(c *appconfig.Config, _, _ *string) {
			big := filepath.Join(t.TempDir(), "bzImage")
			if err := os.WriteFile(big, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(big, 45<<20); err != nil {
				t.Fatal(err)
			}
			c.Kernel.Path = big
			c.Image.ESPMiB = 40
		}, "raise image.esp_mib", ErrTooBig},
		{"missing kernel", func(c *appconfig.Config, _, _ *string) { c.Kernel.Path = "/nonexistent/bzImage" }, "kernel /nonexistent/bzImage not found", nil},
		{"unwritable output", func(_ *appconfig.Config, out, _ *string) { *out = "/proc/vxway/x.img" }, "choose a writable path with -o", nil},
		{"missing program", func(_ *appconfig.Config, _, p *string) {
			*p = t.TempDir()
		}, "cmd/xcli has no Go source", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleConfig(t)
			out := filepath.Join(t.TempDir(), "x.img")
			p := progs
			tt.mutate(c, &out, &p)
			_, err := buildStandIn(t, c, out, p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build err = %v, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Build err = %v, want errors.Is %v", err, tt.is)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a failed build left %s", out)
			}
		})
	}
}

func TestGUID(t *testing.T) {
	a := GUID("s", "disk")
	if a != GUID("s", "disk") || a == GUID("s", "part:data") || a == GUID("t", "disk") {
		t.Errorf("GUID not derived from seed and purpose")
	}
	if len(a) != 36 || a[14] != '4' {
		t.Errorf("GUID %s is not a version 4 layout", a)
	}
}

func TestLayout(t *testing.T) {
	l, err := NewLayout(256, 64, 16)
	if err != nil {
		t.Fatal(err)
	}
	if l.ESPStart != 1<<20 || l.PersistStart() != 65<<20 || l.DataStart() != 81<<20 || l.DataSize != 174<<20 {
		t.Errorf("layout %+v", l)
	}
	if got := l.ESPPartSize(); got != 64<<20-1024 {
		t.Errorf("ESPPartSize = %d, want 64 MiB less two sectors", got)
	}
	if _, err := NewLayout(90, 64, 16); err == nil {
		t.Error("NewLayout accepted a disk without room for data")
	}
}

// checkAddESPFiles adds files to the ESP of a built image, reads them
// back, checks the ESP with fsck.vfat, and sees a file already there
// refused with nothing written.
func checkAddESPFiles(t *testing.T, img string) {
	t.Helper()
	entry := []byte("title added\n")
	big := bytes.Repeat([]byte("vxway"), 300000) // spans many clusters
	added := []ESPFile{{Path: "/loader/entries/added.conf", Data: entry}, {Path: "/added/sub/big.bin", Data: big}}
	if err := AddESPFiles(img, added); err != nil {
		t.Fatal(err)
	}
	for _, f := range added {
		if got, err := ReadESPFile(img, f.Path); err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s after AddESPFiles: %d bytes, %v; want the %d bytes written", f.Path, len(got), err, len(f.Data))
		}
	}
	CheckImage(t, img)
	before, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	err = AddESPFiles(img, []ESPFile{{Path: "/new.txt", Data: []byte("x")}, {Path: "/loader/loader.conf", Data: []byte("timeout 5\n")}})
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "/loader/loader.conf") {
		t.Errorf("adding a file already there: %v, want an error naming it", err)
	}
	if after, _ := os.ReadFile(img); !bytes.Equal(before, after) {
		t.Error("a refused AddESPFiles changed the image")
	}
}
