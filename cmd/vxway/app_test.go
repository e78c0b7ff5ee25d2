package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vxway/image"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"vxway"}, args...), strings.NewReader(""), &out, &errb)
	return out.String() + errb.String(), err
}

func TestBuildBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "a.toml")
	if err := os.WriteFile(cfg, []byte("version = 1\n[image]\nsize_mb = 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.img")
	_, err := runCLI(t, "build", "-c", cfg, "-o", out)
	if err == nil || !strings.Contains(err.Error(), `line 3: unknown key "image.size_mb"`) {
		t.Errorf("build with an unknown key: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed build wrote its output")
	}
	if _, err := runCLI(t, "build", "extra"); err == nil {
		t.Error("build accepted an argument")
	}
}

func TestBuildInspectProvision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	if err := image.RequireHost(image.PkgSystemdBoot, image.PkgE2fsprogs); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "out", "vxway.img")
	out, err := runCLI(t, "build", "-c", "../../appliance.toml", "-o", img)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, want := range []string{"[1/6]", "[6/6]", "sha256", "allocated", "time"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, "inspect", img)
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	for _, want := range []string{"ESP", "persist", "data", "/EFI/BOOT/BOOTX64.EFI", "/vxway-a/initramfs.img", "options console=ttyS0", "/etc/vxway/image.json", "X14.2.0-vxway"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}

	prov := filepath.Join(dir, "provision.toml")
	if err := os.WriteFile(prov, []byte("version = 1\ninstance_id = \"cli-test\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, "seed.img")
	if out, err := runCLI(t, "provision-disk", prov, "-o", seed); err != nil {
		t.Fatalf("provision-disk: %v\n%s", err, out)
	}
	if fi, err := os.Stat(seed); err != nil || fi.Size() == 0 {
		t.Errorf("seed.img: %v", err)
	}
	if _, err := runCLI(t, "run", filepath.Join(dir, "none.img")); err == nil || !strings.Contains(err.Error(), "vxway build") {
		t.Errorf("run of a missing image: %v", err)
	}
}

func TestFlagsFirst(t *testing.T) {
	tests := []struct {
		in    string
		words int
		want  string
	}{
		{"vxway provision-disk p.toml -o seed.img", 2, "vxway provision-disk -o seed.img p.toml"},
		{"vxway run --provision p.toml out/vxway.img --ssh-port=2200", 2, "vxway run --provision p.toml --ssh-port=2200 out/vxway.img"},
		{"vxway build -c a.toml -o x.img", 2, "vxway build -c a.toml -o x.img"},
		{"vxway inspect -- -odd.img", 2, "vxway inspect -- -odd.img"},
		{"vxway", 2, "vxway"},
		{"vxway option-key keygen lab/v", 3, "vxway option-key keygen lab/v"},
		{"vxway option-key sign --key v.key --serial 0B070519", 3, "vxway option-key sign --key v.key --serial 0B070519"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := strings.Join(flagsFirst(strings.Fields(tt.in), tt.words), " "); got != tt.want {
				t.Errorf("flagsFirst(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
