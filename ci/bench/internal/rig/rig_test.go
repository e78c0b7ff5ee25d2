package rig

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"vxway/platform"
)

func TestParseRSS(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         int
		wantErr      bool
	}{
		{name: "found", status: "Name:\tsmartagent\nVmPeak:\t 9000 kB\nVmRSS:\t    8123 kB\nThreads:\t6\n", want: 8123},
		{name: "missing", status: "Name:\tkthreadd\nThreads:\t1\n", wantErr: true},
		{name: "garbled", status: "VmRSS:\tlots\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRSS(tc.status, "/proc/1/status")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseRSS = %d, %v; want %d (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRSSOfThisProcess(t *testing.T) {
	kib, err := RSS(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if kib <= 0 {
		t.Errorf("RSS = %d KiB", kib)
	}
}

func TestMedian(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2}
	if got := Median(ds); got != 4 {
		t.Errorf("Median = %d, want the upper middle 4", got)
	}
	if ds[0] != 5 {
		t.Error("Median sorted its argument")
	}
	if got := Ms(1234567 * time.Nanosecond); got != "1.2ms" {
		t.Errorf("Ms = %q", got)
	}
}

func TestExpresswayRoot(t *testing.T) {
	root := t.TempDir()
	if err := expresswayRoot(root); err != nil {
		t.Fatal(err)
	}
	sc, err := platform.LoadSystemConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Brand != platform.BrandExpressway || !sc.SmartLicensingEnabled || sc.Hostname != "bench" {
		t.Errorf("system configuration %+v", sc)
	}
}

// TestStop: a program that runs until signalled is ended and waited for;
// one never started is left alone.
func TestStop(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	cmd := exec.Command(sleep, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	Stop(cmd)
	if cmd.ProcessState == nil {
		t.Error("Stop returned before the program ended")
	}
	Stop(exec.Command(filepath.Join(t.TempDir(), "never-started")))
}
