package slot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"vxway/bundle"
)

// fakeESP makes an ESP directory as the build writes it: slot A good.
func fakeESP(t *testing.T) ESP {
	t.Helper()
	e := ESP{Dir: t.TempDir()}
	write(t, e, LoaderConfPath, LoaderConf())
	write(t, e, filepath.Join(EntriesDir, EntryFile(A, -1, -1)), Entry(A, "X14.2.0-vxway", 1, "console=ttyS0"))
	write(t, e, "vxway-a/vmlinuz", "kernel A")
	return e
}

func write(t *testing.T, e ESP, rel, data string) {
	t.Helper()
	p := filepath.Join(e.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func files(t *testing.T, e ESP) []string {
	t.Helper()
	var out []string
	filepath.Walk(e.Dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(e.Dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func part(name, data string) File {
	sum := sha256.Sum256([]byte(data))
	return File{
		Part: bundle.Part{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])},
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil },
	}
}

func install(n Name, version string) Install {
	return Install{
		Slot: n, Version: version, Cmdline: "console=ttyS0 quiet", Manifest: []byte(`{"version":"` + version + `"}`),
		Files: []File{part(bundle.PartKernel, "kernel "+version), part(bundle.PartInitramfs, "initramfs "+version)},
	}
}

func TestParseEntryFile(t *testing.T) {
	for _, tt := range []struct {
		file       string
		slot       Name
		left, done int
		ok         bool
	}{
		{"vxway-a.conf", A, -1, -1, true},
		{"vxway-b+3.conf", B, 3, 0, true},
		{"vxway-b+2-1.conf", B, 2, 1, true},
		{"vxway-b+0-3.conf", B, 0, 3, true},
		{"vxway-c.conf", "", 0, 0, false},
		{"vxway-b+x.conf", "", 0, 0, false},
		{"vxway-b+-1.conf", "", 0, 0, false},
		{"vxway-b+01.conf", "", 0, 0, false},
		{"vxway-b.conf.tmp", "", 0, 0, false},
		{".vxway-b.tmp", "", 0, 0, false},
	} {
		t.Run(tt.file, func(t *testing.T) {
			n, l, d, ok := parseEntryFile(tt.file)
			if ok != tt.ok || (ok && (n != tt.slot || l != tt.left || d != tt.done)) {
				t.Errorf("parseEntryFile(%q) = %q %d %d %v, want %q %d %d %v", tt.file, n, l, d, ok, tt.slot, tt.left, tt.done, tt.ok)
			}
			if ok && EntryFile(n, l, d) != tt.file {
				t.Errorf("EntryFile gives %q back", EntryFile(n, l, d))
			}
		})
	}
}

// bootCount does what systemd-boot does when it boots an entry with a
// counter: one try less, one more done, renamed before the kernel starts.
func bootCount(t *testing.T, e ESP) BootEntry {
	t.Helper()
	next, ok, err := e.Next()
	if err != nil || !ok {
		t.Fatalf("Next: %v %v", ok, err)
	}
	if next.TriesLeft > 0 {
		dir := filepath.Join(e.Dir, EntriesDir)
		to := EntryFile(next.Slot, next.TriesLeft-1, next.TriesDone+1)
		if err := os.Rename(filepath.Join(dir, next.File), filepath.Join(dir, to)); err != nil {
			t.Fatal(err)
		}
		next.TriesLeft, next.TriesDone, next.File = next.TriesLeft-1, next.TriesDone+1, to
	}
	return next
}

func TestInstallBootsNextThenMarkGood(t *testing.T) {
	e := fakeESP(t)
	if err := e.Write(install(B, "X14.3.0-vxway"), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"loader/entries/vxway-a.conf", "loader/entries/vxway-b+3.conf", "loader/loader.conf",
		"vxway-a/vmlinuz", "vxway-b/initramfs.img", "vxway-b/manifest.json", "vxway-b/vmlinuz"}
	if got := files(t, e); !reflect.DeepEqual(got, want) {
		t.Errorf("ESP files (-want +got):\n%v\n%v", want, got)
	}
	entry, _ := os.ReadFile(filepath.Join(e.Dir, EntriesDir, "vxway-b+3.conf"))
	for _, line := range []string{"version 2\n", "sort-key vxway\n", "linux /vxway-b/vmlinuz\n", "options console=ttyS0 quiet vxway.slot=b\n"} {
		if !strings.Contains(string(entry), line) {
			t.Errorf("entry lacks %q:\n%s", line, entry)
		}
	}
	if b := bootCount(t, e); b.Slot != B || b.File != "vxway-b+2-1.conf" {
		t.Fatalf("first boot after the install: %+v, want slot b on trial", b)
	}
	if err := e.MarkGood(B); err != nil {
		t.Fatal(err)
	}
	if next, _, _ := e.Next(); next.Slot != B || !next.Good() || next.File != "vxway-b.conf" {
		t.Errorf("after MarkGood the next boot is %+v, want vxway-b.conf", next)
	}
	// The next upgrade goes to A, the slot not running, and A boots next.
	if err := e.Write(install(A, "X14.4.0-vxway"), nil); err != nil {
		t.Fatal(err)
	}
	if next, _, _ := e.Next(); next.Slot != A || next.Seq != 3 || next.TriesLeft != 3 {
		t.Errorf("after installing into A the next boot is %+v", next)
	}
}

// TestTriesRunOut: a slot that never gets marked good is booted three
// times, then systemd-boot's order puts the old slot first again.
func TestTriesRunOut(t *testing.T) {
	e := fakeESP(t)
	if err := e.Write(install(B, "X14.3.0-vxway"), nil); err != nil {
		t.Fatal(err)
	}
	var booted []string
	for i := 0; i < 4; i++ {
		booted = append(booted, bootCount(t, e).File)
	}
	want := []string{"vxway-b+2-1.conf", "vxway-b+1-2.conf", "vxway-b+0-3.conf", "vxway-a.conf"}
	if !reflect.DeepEqual(booted, want) {
		t.Errorf("boots = %v, want %v", booted, want)
	}
	be, ok, _ := e.Entry(B)
	if !ok || !be.Bad() {
		t.Errorf("slot B = %+v, want bad", be)
	}
}

func TestOrder(t *testing.T) {
	for _, tt := range []struct {
		name    string
		entries map[string]int // file -> seq
		want    Name
	}{
		{"newest good first", map[string]int{"vxway-a.conf": 1, "vxway-b.conf": 2}, B},
		{"newest on trial first", map[string]int{"vxway-a.conf": 1, "vxway-b+1-2.conf": 2}, B},
		{"bad sinks", map[string]int{"vxway-a.conf": 1, "vxway-b+0-3.conf": 2}, A},
		{"a newer than b", map[string]int{"vxway-a+3.conf": 5, "vxway-b.conf": 4}, A},
		{"only one", map[string]int{"vxway-b.conf": 7}, B},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := ESP{Dir: t.TempDir()}
			for f, seq := range tt.entries {
				n, _, _, _ := parseEntryFile(f)
				write(t, e, filepath.Join(EntriesDir, f), Entry(n, "v", seq, "console=ttyS0"))
			}
			write(t, e, filepath.Join(EntriesDir, "other.conf"), "title not ours\n")
			next, ok, err := e.Next()
			if err != nil || !ok || next.Slot != tt.want {
				t.Errorf("Next = %+v %v %v, want slot %s", next, ok, err, tt.want)
			}
		})
	}
}

// TestPowerCutDuringInstall stops the install after every step and checks
// that the ESP still boots slot A, untouched, until the entry of B is
// written.
func TestPowerCutDuringInstall(t *testing.T) {
	errCut := errors.New("power cut")
	for cut := 0; ; cut++ {
		e := fakeESP(t)
		aBefore, _ := os.ReadFile(filepath.Join(e.Dir, EntriesDir, "vxway-a.conf"))
		steps := 0
		var last Step
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = errCut
				}
			}()
			return e.Write(install(B, "X14.3.0-vxway"), func(s Step, _ string) {
				last = s
				if steps == cut {
					panic(errCut)
				}
				steps++
			})
		}()
		if err == nil {
			if cut < 5 {
				t.Fatalf("only %d steps", cut)
			}
			return
		}
		next, ok, nerr := e.Next()
		if nerr != nil || !ok {
			t.Fatalf("cut after %q: no bootable entry: %v", last, nerr)
		}
		if last != StepEntryWritten && next.Slot != A {
			t.Errorf("cut after %q: boots %+v, want slot A", last, next)
		}
		aAfter, _ := os.ReadFile(filepath.Join(e.Dir, EntriesDir, "vxway-a.conf"))
		if string(aAfter) != string(aBefore) {
			t.Errorf("cut after %q: the running slot's entry changed", last)
		}
		if _, ok, _ := e.Manifest(B); ok && last != StepEntryWritten {
			// A manifest of B before the entry is fine only when the
			// files are complete; the entry is what makes it boot.
			if _, has, _ := e.Entry(B); has {
				t.Errorf("cut after %q: slot B has an entry before its files were verified", last)
			}
		}
	}
}

func TestReadBackMismatch(t *testing.T) {
	e := fakeESP(t)
	in := install(B, "X14.3.0-vxway")
	in.Files[1].Part.SHA256 = strings.Repeat("0", 64)
	err := e.Write(in, nil)
	if !errors.Is(err, bundle.ErrHashMismatch) {
		t.Fatalf("err = %v, want a hash mismatch", err)
	}
	if _, ok, _ := e.Entry(B); ok {
		t.Error("a slot that did not read back has an entry")
	}
}

func TestCmdlineSlot(t *testing.T) {
	for in, want := range map[string]Name{
		"console=ttyS0 vxway.slot=b quiet": B,
		"vxway.slot=A":                     A,
		"console=ttyS0":                    "",
		"vxway.slot=c":                     "",
	} {
		got, _ := CmdlineSlot(in)
		if got != want {
			t.Errorf("CmdlineSlot(%q) = %q, want %q", in, got, want)
		}
	}
}
