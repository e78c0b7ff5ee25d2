package boot

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMakeExt4 runs the real mke2fs on an image file and checks the result
// with HasExt4 and e2fsck.
func TestMakeExt4(t *testing.T) {
	mke2fs, err := exec.LookPath("mke2fs")
	if err != nil {
		mke2fs = "/sbin/mke2fs"
		if _, err := os.Stat(mke2fs); err != nil {
			t.Skip("mke2fs not installed (Debian package e2fsprogs)")
		}
	}
	img := filepath.Join(t.TempDir(), "data.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	if ok, err := HasExt4(img); err != nil || ok {
		t.Fatalf("HasExt4(blank) = %v, %v; want false", ok, err)
	}
	if err := (Linux{Mke2fs: mke2fs}).MakeExt4(img, "data"); err != nil {
		t.Fatal(err)
	}
	if ok, err := HasExt4(img); err != nil || !ok {
		t.Fatalf("HasExt4(made) = %v, %v; want true", ok, err)
	}
	e2fsck, err := exec.LookPath("e2fsck")
	if err != nil {
		if _, err := os.Stat("/sbin/e2fsck"); err != nil {
			t.Log("e2fsck not installed; skipping the independent check")
			return
		}
		e2fsck = "/sbin/e2fsck"
	}
	if out, err := exec.Command(e2fsck, "-n", "-f", img).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -n: %v\n%s", err, out)
	}
}

func TestMakeExt4ReportsFailure(t *testing.T) {
	runner := &countingRunner{}
	err := (Linux{Mke2fs: "/bin/false", Runner: runner}).MakeExt4(filepath.Join(t.TempDir(), "x"), "data")
	if err == nil {
		t.Fatal("MakeExt4 with a failing mke2fs returned nil")
	}
	if runner.started != 1 || runner.waited != 1 {
		t.Errorf("runner started %d, waited %d; want 1 and 1", runner.started, runner.waited)
	}
}

// countingRunner runs commands and counts them.
type countingRunner struct{ started, waited int }

func (r *countingRunner) Start(cmd *exec.Cmd) error { r.started++; return cmd.Start() }
func (r *countingRunner) Wait(cmd *exec.Cmd) error  { r.waited++; return cmd.Wait() }
