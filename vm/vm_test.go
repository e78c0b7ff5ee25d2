package vm

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/firstboot"
)

func TestMakeProvisionDisk(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "p.toml")
	content := "version = 1\ninstance_id = \"vm-test-1\"\n[system]\nhostname = \"gw7\"\n"
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	tm := time.Unix(1767225600, 0)
	if err := MakeProvisionDisk(src, a, tm); err != nil {
		t.Fatal(err)
	}
	if err := MakeProvisionDisk(src, b, tm); err != nil {
		t.Fatal(err)
	}
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Error("two provisioning disks from the same file differ")
	}
	// The device's reader finds the seed.
	got, err := firstboot.ReadSeedDisk(a)
	if err != nil || string(got) != content {
		t.Errorf("firstboot.ReadSeedDisk = %q, %v; want %q", got, err, content)
	}
	// Independent readers: fsck.vfat, and mtools for the label and file.
	if _, err := exec.LookPath("fsck.vfat"); err == nil {
		if out, err := exec.Command("fsck.vfat", "-n", a).CombinedOutput(); err != nil {
			t.Errorf("fsck.vfat -n: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("mtype"); err == nil {
		out, err := exec.Command("mtype", "-i", a, "::/provision.toml").Output()
		if err != nil || string(out) != content {
			t.Errorf("mtype provision.toml = %q, %v", out, err)
		}
		out, err = exec.Command("mlabel", "-s", "-i", a, "::").Output()
		if err != nil || !strings.Contains(string(out), "VXPROV") {
			t.Errorf("mlabel -s = %q, %v", out, err)
		}
	}
}

func TestMakeProvisionDiskErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "seed.img")
	if err := MakeProvisionDisk(bad, out, time.Unix(0, 0)); !errors.Is(err, ErrBadProvision) {
		t.Errorf("invalid TOML: err = %v, want ErrBadProvision", err)
	}
	unknown := filepath.Join(dir, "unknown.toml")
	if err := os.WriteFile(unknown, []byte("version = 1\ninstance_id = \"a\"\ncolour = \"red\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := MakeProvisionDisk(unknown, out, time.Unix(0, 0)); !errors.Is(err, ErrBadProvision) || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown key: err = %v, want ErrBadProvision naming colour", err)
	}
	if err := MakeProvisionDisk(filepath.Join(dir, "none.toml"), out, time.Unix(0, 0)); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed MakeProvisionDisk left its output")
	}
}

func TestNewArgs(t *testing.T) {
	if _, err := os.Stat("/usr/bin/qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86 not installed")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "x.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := New(Options{Image: img, StateDir: dir, HTTPSPort: 8443, SSHPort: 2222, RTCBase: "2026-01-01T00:00:00", Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	line := v.String()
	for _, want := range []string{"-accel tcg -cpu max", "-smp 1", "hostfwd=tcp:127.0.0.1:8443-:443", "hostfwd=tcp:127.0.0.1:2222-:22",
		"-rtc base=2026-01-01T00:00:00", "-uuid " + v.UUID, "mac=" + v.MAC, "-serial mon:stdio", "virtio-blk-pci"} {
		if !strings.Contains(line, want) {
			t.Errorf("command line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "-no-reboot") {
		t.Error("the VM must stay up across guest reboots")
	}
	if v3, _ := New(Options{Image: img, StateDir: dir, Accel: "tcg", CPUs: 2}); !strings.Contains(v3.String(), "-accel tcg,thread=single") {
		t.Errorf("two TCG vCPUs must run single-threaded: %s", v3)
	}
	v2, _ := New(Options{Image: img, StateDir: dir, Accel: "tcg"})
	if v2.UUID != v.UUID || v2.MAC != v.MAC {
		t.Error("identity not stable for the same image")
	}
	if _, err := New(Options{Image: img, StateDir: dir, HTTPSPort: 2222, SSHPort: 2222}); err == nil {
		t.Error("same port twice accepted")
	}
	sip, err := New(Options{Image: img, StateDir: dir, SIPPort: 5070, Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hostfwd=udp:127.0.0.1:5070-:5060", "hostfwd=tcp:127.0.0.1:5070-:5060", "hostfwd=tcp:127.0.0.1:5071-:5061", "-smbios type=11,value=vxway.sip.advertise=127.0.0.1:5070"} {
		if !strings.Contains(sip.String(), want) {
			t.Errorf("--sip-port 5070: command line lacks %q:\n%s", want, sip)
		}
	}
	for _, o := range []Options{{SIPPort: 2221, SSHPort: 2222}, {SIPPort: 8443, HTTPSPort: 8443}, {SIPPort: 65535}} {
		o.Image, o.StateDir = img, dir
		if _, err := New(o); err == nil {
			t.Errorf("SIP port %d with HTTPS %d and SSH %d accepted", o.SIPPort, o.HTTPSPort, o.SSHPort)
		}
	}
	if _, err := New(Options{Image: filepath.Join(dir, "none.img")}); err == nil || !strings.Contains(err.Error(), "vxway build") {
		t.Errorf("missing image: err = %v", err)
	}
}
