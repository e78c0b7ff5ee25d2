package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/platform"
	"vxway/testsupport"
)

// fakeSystem records the system calls and makes "filesystems" by writing
// the ext4 magic into the device file.
type fakeSystem struct {
	calls      []string
	unmountErr map[string]error
	haltErr    error
	hostname   string
}

func (f *fakeSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	f.calls = append(f.calls, fmt.Sprintf("mount %s %s %s %#x %s", source, target, fstype, flags, data))
	return nil
}

func (f *fakeSystem) Unmount(target string) error {
	f.calls = append(f.calls, "umount "+target)
	return f.unmountErr[target]
}

func (f *fakeSystem) MakeExt4(device, label string) error {
	f.calls = append(f.calls, "mkfs "+device+" "+label)
	return testsupport.WriteExt4Magic(device)
}

func (f *fakeSystem) Sync() { f.calls = append(f.calls, "sync") }

func (f *fakeSystem) Halt(how Halt) error {
	f.calls = append(f.calls, "halt "+how.String())
	return f.haltErr
}

func (f *fakeSystem) SetHostname(name string) error {
	f.hostname = name
	return nil
}

// newRoot makes a root with vda1 (ESP), vda2 (persist, formatted) and vda3
// (data, blank).
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	testsupport.WritePartitions(t, root, "ESP", "persist", "data")
	if err := testsupport.WriteExt4Magic(filepath.Join(root, "dev/vda2")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestBootSequence(t *testing.T) {
	root := newRoot(t)
	sys := &fakeSystem{}
	var log strings.Builder
	b := &Boot{Root: root, Sys: sys, Log: &log}
	if err := b.MountEarly(); err != nil {
		t.Fatal(err)
	}
	if err := b.MountVolumes(); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(PowerOff); err != nil {
		t.Fatal(err)
	}
	r := root
	want := []string{
		"mount proc " + r + "/proc proc 0xe ",
		"mount sysfs " + r + "/sys sysfs 0xe ",
		"mount devtmpfs " + r + "/dev devtmpfs 0x2 mode=0755",
		"mount devpts " + r + "/dev/pts devpts 0xa mode=0620,ptmxmode=0666",
		"mount tmpfs " + r + "/run tmpfs 0x6 mode=0755",
		"mount tmpfs " + r + "/tmp tmpfs 0x6 mode=1777",
		"mount " + r + "/dev/vda2 " + r + "/persist ext4 0x400 ",
		"mkfs " + r + "/dev/vda3 data",
		"mount " + r + "/dev/vda3 " + r + "/data ext4 0x400 ",
		"sync",
		"umount " + r + "/data",
		"umount " + r + "/persist",
		"sync",
		"halt power-off",
	}
	if diff := diffLines(want, sys.calls); diff != "" {
		t.Errorf("system calls (-want +got):\n%s", diff)
	}
	if !strings.Contains(log.String(), "init: data (vda3) is blank: making an ext4 filesystem") {
		t.Errorf("console did not say data was made; got:\n%s", log.String())
	}
	for _, d := range []string{"proc", "sys", "dev/pts", "run", "tmp", "persist", "data"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("mount point %s not made: %v", d, err)
		}
	}
}

func TestSecondBootDoesNotRemake(t *testing.T) {
	root := newRoot(t)
	if err := testsupport.WriteExt4Magic(filepath.Join(root, "dev/vda3")); err != nil {
		t.Fatal(err)
	}
	sys := &fakeSystem{}
	b := &Boot{Root: root, Sys: sys}
	if err := b.MountVolumes(); err != nil {
		t.Fatal(err)
	}
	for _, c := range sys.calls {
		if strings.HasPrefix(c, "mkfs") {
			t.Errorf("formatted partition was made again: %s", c)
		}
	}
}

func TestMissingPartition(t *testing.T) {
	root := newRoot(t)
	if err := os.RemoveAll(filepath.Join(root, "sys/class/block/vda3")); err != nil {
		t.Fatal(err)
	}
	sys := &fakeSystem{}
	var slept time.Duration
	b := &Boot{Root: root, Sys: sys, Wait: time.Second, Sleep: func(d time.Duration) { slept += d }}
	err := b.MountVolumes()
	if !errors.Is(err, ErrNoPartition) {
		t.Fatalf("MountVolumes = %v, want ErrNoPartition", err)
	}
	if !strings.Contains(err.Error(), `"data"`) {
		t.Errorf("error %q does not name the partition", err)
	}
	if slept < time.Second {
		t.Errorf("waited %v for the partition, want at least 1s", slept)
	}
}

func TestRemake(t *testing.T) {
	root := newRoot(t)
	sys := &fakeSystem{}
	b := &Boot{Root: root, Sys: sys}
	if err := b.MountVolumes(); err != nil {
		t.Fatal(err)
	}
	sys.calls = nil
	if err := b.Remake(Volume{PartName: "data", Target: "data"}); err != nil {
		t.Fatal(err)
	}
	r := root
	want := []string{
		"sync",
		"umount " + r + "/data",
		"mkfs " + r + "/dev/vda3 data",
		"mount " + r + "/dev/vda3 " + r + "/data ext4 0x400 ",
	}
	if diff := diffLines(want, sys.calls); diff != "" {
		t.Errorf("system calls (-want +got):\n%s", diff)
	}
	if got := b.Mounted(); len(got) != 2 || got[1] != r+"/data" {
		t.Errorf("Mounted = %v, want persist then data", got)
	}
}

func TestShutdownBusyRemountsReadOnly(t *testing.T) {
	root := newRoot(t)
	sys := &fakeSystem{}
	b := &Boot{Root: root, Sys: sys}
	if err := b.MountVolumes(); err != nil {
		t.Fatal(err)
	}
	sys.unmountErr = map[string]error{root + "/data": errors.New("device or resource busy")}
	sys.calls = nil
	if err := b.Shutdown(Reboot); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"sync",
		"umount " + root + "/data",
		"mount  " + root + "/data  0x21 ",
		"umount " + root + "/persist",
		"sync",
		"halt reboot",
	}
	if diff := diffLines(want, sys.calls); diff != "" {
		t.Errorf("system calls (-want +got):\n%s", diff)
	}
}

func TestHostname(t *testing.T) {
	const image = `{"hostname":"expe","password_hashes":{"root":"$6$x$y","admin":"$6$x$y"}}`
	tests := []struct {
		name    string
		files   map[string]string
		want    string
		wantErr bool
	}{
		{"nothing", nil, platform.DefaultHostname, false},
		{"image only", map[string]string{"etc/vxway/image.json": image}, "expe", false},
		{"config wins", map[string]string{
			"etc/vxway/image.json":    image,
			"data/config/system.json": `{"hostname":"edge1","domain":"example.com","brand":"VCS","type":"Expressway-C"}`,
		}, "edge1", false},
		{"config without hostname", map[string]string{
			"etc/vxway/image.json":    image,
			"data/config/system.json": `{"brand":"VCS","type":"Expressway-C"}`,
		}, "expe", false},
		{"broken config falls back", map[string]string{
			"etc/vxway/image.json":    image,
			"data/config/system.json": `{"hostname":`,
		}, "expe", true},
		{"invalid name refused", map[string]string{
			"data/config/system.json": `{"hostname":"bad name!","brand":"VCS","type":"Expressway-C"}`,
		}, platform.DefaultHostname, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			testsupport.WriteFiles(t, root, tt.files)
			got, err := Hostname(root)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Hostname = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			sys := &fakeSystem{}
			b := &Boot{Root: root, Sys: sys}
			if name, err := b.SetHostname(); err != nil || name != tt.want || sys.hostname != tt.want {
				t.Errorf("SetHostname = %q, %v; kernel got %q; want %q", name, err, sys.hostname, tt.want)
			}
		})
	}
}

func diffLines(want, got []string) string {
	var b strings.Builder
	n := max(len(want), len(got))
	for i := 0; i < n; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "%d: -%q\n%d: +%q\n", i, w, i, g)
		}
	}
	return b.String()
}

func TestDataDiskForFactoryReset(t *testing.T) {
	root := newRoot(t)
	if err := testsupport.WriteExt4Magic(filepath.Join(root, "dev/vda3")); err != nil {
		t.Fatal(err)
	}
	sys := &fakeSystem{}
	b := &Boot{Root: root, Sys: sys}
	ctx := context.Background()
	if err := b.MountVolume(Volume{PartName: "persist", Target: "persist"}); err != nil {
		t.Fatal(err)
	}
	// Unmounting data that is not mounted is fine (a resumed reset).
	if err := b.UnmountData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.MakeData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.MountData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.MountData(ctx); err != nil { // already mounted: no-op
		t.Fatal(err)
	}
	if err := b.MakeData(ctx); err == nil {
		t.Error("MakeData while data is mounted succeeded")
	}
	if err := b.UnmountData(ctx); err != nil {
		t.Fatal(err)
	}
	r := root
	want := []string{
		"mount " + r + "/dev/vda2 " + r + "/persist ext4 0x400 ",
		"mkfs " + r + "/dev/vda3 data",
		"mount " + r + "/dev/vda3 " + r + "/data ext4 0x400 ",
		"sync",
		"umount " + r + "/data",
	}
	if diff := diffLines(want, sys.calls); diff != "" {
		t.Errorf("system calls (-want +got):\n%s", diff)
	}
}
