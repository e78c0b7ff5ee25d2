package upgrade

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"vxway/bundle"
	"vxway/clock"
	"vxway/platform"
	"vxway/slot"
	"vxway/sysclient"
	"vxway/xapi"
)

// fakeESP is the ESP as a plain directory; it counts mounts, and the
// read-write ones.
type fakeESP struct {
	dir              string
	mounted, written int
}

func (f *fakeESP) MountESP(_ context.Context, writable bool) (string, func() error, error) {
	f.mounted++
	if writable {
		f.written++
	}
	return f.dir, func() error { return nil }, nil
}

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

type testDevice struct {
	root  string
	esp   *fakeESP
	clock *clock.Fake
	dev   *Device
}

// newDevice makes a device root running version 1 from slot A, trusting
// key(1), with the ESP as the build writes it.
func newDevice(t *testing.T) *testDevice {
	t.Helper()
	root := t.TempDir()
	info := &platform.ImageInfo{
		SoftwareVersion: "X14.2.0-vxway", Product: "vxway",
		PasswordHashes:    platform.PasswordHashes{Root: "x", Admin: "y"},
		UpgradePublicKeys: []string{hex.EncodeToString(key(1).Public().(ed25519.PublicKey))},
	}
	if err := platform.WriteImageInfo(root, info); err != nil {
		t.Fatal(err)
	}
	setCmdline(t, root, "console=ttyS0 vxway.slot=a")
	for _, d := range []string{"persist", "data", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	esp := &fakeESP{dir: t.TempDir()}
	mustWrite(t, filepath.Join(esp.dir, slot.LoaderConfPath), slot.LoaderConf())
	mustWrite(t, filepath.Join(esp.dir, slot.EntriesDir, "vxway-a.conf"), slot.Entry(slot.A, "X14.2.0-vxway", 1, "console=ttyS0"))
	mustWrite(t, filepath.Join(esp.dir, "vxway-a", "vmlinuz"), "kernel 1")
	m, err := bundle.Write(io.Discard, key(1), bundle.Manifest{Product: "vxway", Version: "X14.2.0-vxway", Cmdline: "console=ttyS0"}, sources("X14.2.0-vxway"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := m.Marshal()
	mustWrite(t, filepath.Join(esp.dir, "vxway-a", slot.ManifestFile), string(raw))
	c := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	return &testDevice{root: root, esp: esp, clock: c, dev: &Device{Root: root, ESP: esp, Clock: c}}
}

func setCmdline(t *testing.T, root, s string) {
	t.Helper()
	mustWrite(t, filepath.Join(root, CmdlinePath), s+"\n")
}

func mustWrite(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sources(version string) []bundle.Source {
	src := func(name, data string) bundle.Source {
		return bundle.Source{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }}
	}
	return []bundle.Source{src(bundle.PartKernel, "kernel "+version), src(bundle.PartInitramfs, "initramfs "+version)}
}

type bundleSpec struct {
	key      ed25519.PrivateKey
	product  string
	version  string
	mutilate func([]byte) []byte
}

func writeBundle(t *testing.T, dir string, s bundleSpec) string {
	t.Helper()
	if s.key == nil {
		s.key = key(1)
	}
	if s.product == "" {
		s.product = "vxway"
	}
	var buf bytes.Buffer
	_, err := bundle.Write(&buf, s.key, bundle.Manifest{Product: s.product, Version: s.version, BuildEpoch: 1, Cmdline: "console=ttyS0 quiet"}, sources(s.version))
	if err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if s.mutilate != nil {
		b = s.mutilate(b)
	}
	p := filepath.Join(dir, "vxway-"+s.version+".vxu")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot lists every file under dirs with its contents.
func snapshot(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range dirs {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				b, _ := os.ReadFile(p)
				out[p] = string(b)
			}
			return nil
		})
	}
	return out
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestRefusals: each bad bundle is refused with its reason, and neither
// the ESP nor persist changes.
func TestRefusals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		spec   bundleSpec
		min    string
		want   error
		reason string
	}{
		{"unknown key", bundleSpec{key: key(9), version: "X14.3.0-vxway"}, "", bundle.ErrUnknownKey, "signed by key"},
		{"bad signature", bundleSpec{version: "X14.3.0-vxway", mutilate: func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"vxway"`))
			b[i+1] = 'V'
			return b
		}}, "", bundle.ErrBadSignature, "did not sign"},
		{"truncated", bundleSpec{version: "X14.3.0-vxway", mutilate: func(b []byte) []byte { return b[:len(b)-1] }}, "", bundle.ErrTruncated, "download it again"},
		{"oversized", bundleSpec{version: "X14.3.0-vxway", mutilate: func(b []byte) []byte { return append(b, 0) }}, "", bundle.ErrOversized, "1 extra bytes"},
		{"hash mismatch", bundleSpec{version: "X14.3.0-vxway", mutilate: func(b []byte) []byte { b[len(b)-1] ^= 1; return b }}, "", bundle.ErrHashMismatch, "part initramfs.img has sha256"},
		{"other product", bundleSpec{product: "othergw", version: "X14.3.0-vxway"}, "", ErrOtherProduct, `it is for "othergw", this device is "vxway"`},
		{"downgrade", bundleSpec{version: "X14.1.0-vxway"}, "X14.2.0-vxway", ErrDowngrade, "upgrade --allow-downgrade FILE"},
		{"not a bundle", bundleSpec{version: "X14.3.0-vxway", mutilate: func([]byte) []byte { return []byte("<html>not found</html>") }}, "", bundle.ErrNotBundle, "does not start with"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newDevice(t)
			if tt.min != "" {
				if err := SaveState(d.root, State{MinVersion: tt.min}); err != nil {
					t.Fatal(err)
				}
			}
			p := writeBundle(t, t.TempDir(), tt.spec)
			before := snapshot(t, d.root, d.esp.dir)
			_, err := d.dev.Install(context.Background(), p, Options{})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want %v with %q", err, tt.want, tt.reason)
			}
			after := snapshot(t, d.root, d.esp.dir)
			if strings.Join(keysOf(before), "\n") != strings.Join(keysOf(after), "\n") {
				t.Errorf("files changed:\nbefore %v\nafter  %v", keysOf(before), keysOf(after))
			}
			for k, v := range before {
				if after[k] != v {
					t.Errorf("%s changed", k)
				}
			}
			if d.esp.mounted != 0 {
				t.Errorf("the ESP was mounted %d times for a refused bundle", d.esp.mounted)
			}
		})
	}
}

func TestDowngradeAllowedOnPurpose(t *testing.T) {
	d := newDevice(t)
	SaveState(d.root, State{MinVersion: "X14.2.0-vxway"})
	p := writeBundle(t, t.TempDir(), bundleSpec{version: "X14.1.0-vxway"})
	if _, err := d.dev.Install(context.Background(), p, Options{AllowDowngrade: true}); err != nil {
		t.Fatal(err)
	}
}

func TestNoTrustedKey(t *testing.T) {
	d := newDevice(t)
	info, _ := platform.LoadImageInfo(d.root)
	info.UpgradePublicKeys = nil
	platform.WriteImageInfo(d.root, info)
	p := writeBundle(t, t.TempDir(), bundleSpec{version: "X14.3.0-vxway"})
	if _, err := d.dev.Install(context.Background(), p, Options{}); !errors.Is(err, ErrNoTrustedKey) {
		t.Errorf("err = %v, want ErrNoTrustedKey", err)
	}
}

// bootDevice plays systemd-boot (count a try on the next entry) and the kernel
// (the command line names the slot), then installs the image facts of
// the version in that slot, and runs Confirm as init does once ready.
// ready false plays a version that never comes up: no Confirm.
func bootDevice(t *testing.T, d *testDevice, ready bool) slot.Name {
	t.Helper()
	esp := slot.ESP{Dir: d.esp.dir}
	next, ok, err := esp.Next()
	if err != nil || !ok {
		t.Fatalf("nothing to boot: %v", err)
	}
	if next.TriesLeft > 0 {
		dir := filepath.Join(d.esp.dir, slot.EntriesDir)
		os.Rename(filepath.Join(dir, next.File), filepath.Join(dir, slot.EntryFile(next.Slot, next.TriesLeft-1, next.TriesDone+1)))
	}
	setCmdline(t, d.root, "console=ttyS0 vxway.slot="+string(next.Slot))
	version := "X14.2.0-vxway"
	if m, ok, _ := esp.Manifest(next.Slot); ok {
		version = m.Version
	}
	info, _ := platform.LoadImageInfo(d.root)
	info.SoftwareVersion = version
	platform.WriteImageInfo(d.root, info)
	d.clock.Advance(time.Minute)
	if ready {
		if err := d.dev.Confirm(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return next.Slot
}

func status(t *testing.T, d *testDevice, path ...string) string {
	t.Helper()
	tree := &xapi.Tree{}
	(&XAPI{Root: d.root, Clock: d.clock}).Register(tree)
	var out bytes.Buffer
	tree.Serve(context.Background(), &xapi.Request{Kind: xapi.Status, Path: append([]string{"SystemUnit", "Software"}, path...)}, xapi.NewWriter(&out))
	return out.String()
}

func TestUpgradeThenRollback(t *testing.T) {
	d := newDevice(t)
	bootDevice(t, d, true)
	if d.esp.written != 0 {
		t.Errorf("a plain boot mounted the ESP read-write %d times", d.esp.written)
	}
	if got := status(t, d); !strings.Contains(got, `LastUpgrade Result: "none"`) || !strings.Contains(got, `Slot A State: "good"`) || !strings.Contains(got, `Slot B State: "empty"`) {
		t.Errorf("first boot status:\n%s", got)
	}

	// 1 -> 2: written into B, boots B on trial, marked good when ready.
	p2 := writeBundle(t, t.TempDir(), bundleSpec{version: "X14.3.0-vxway"})
	if _, err := d.dev.Install(context.Background(), p2, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := status(t, d); !strings.Contains(got, `Next: "B"`) || !strings.Contains(got, `LastUpgrade Result: "pending"`) || !strings.Contains(got, `Slot B State: "trying"`) {
		t.Errorf("after the install:\n%s", got)
	}
	written := d.esp.written
	if n := bootDevice(t, d, true); n != slot.B {
		t.Fatalf("booted %s after the upgrade", n)
	}
	if d.esp.written != written+1 {
		t.Errorf("marking the slot good mounted the ESP read-write %d times, want once", d.esp.written-written)
	}
	st, _ := LoadState(d.root)
	if st.Last.Result != ResultInstalled || st.MinVersion != "X14.3.0-vxway" || st.Last.From != "X14.2.0-vxway" {
		t.Errorf("state after the upgrade: %+v %+v", st, st.Last)
	}
	if got := status(t, d); !strings.Contains(got, `Running: "B"`) || !strings.Contains(got, `Slot A Version: "X14.2.0-vxway"`) || !strings.Contains(got, `Slot B State: "good"`) {
		t.Errorf("after the upgrade:\n%s", got)
	}

	// 2 -> 3, which never comes up: three tries, then 2 again, alarm.
	p3 := writeBundle(t, t.TempDir(), bundleSpec{version: "X14.4.0-vxway"})
	if _, err := d.dev.Install(context.Background(), p3, Options{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if n := bootDevice(t, d, false); n != slot.A {
			t.Fatalf("try %d booted %s, want A (version 3)", i+1, n)
		}
	}
	if n := bootDevice(t, d, true); n != slot.B {
		t.Fatalf("after three failed tries booted %s, want B", n)
	}
	st, _ = LoadState(d.root)
	if st.Last.Result != ResultFailed || !strings.Contains(st.Last.Reason, "X14.4.0-vxway did not start in 3 tries") || st.MinVersion != "X14.3.0-vxway" {
		t.Errorf("state after the rollback: %+v %+v", st, st.Last)
	}
	a, ok, err := platform.NewAlarms(d.root, d.clock).Get(AlarmFailed)
	if err != nil || !ok || !strings.Contains(a.Detail, "X14.4.0-vxway") {
		t.Errorf("alarm %d: %+v %v %v", AlarmFailed, a, ok, err)
	}
	if got := status(t, d); !strings.Contains(got, `Slot A State: "bad"`) || !strings.Contains(got, `LastUpgrade Result: "failed"`) {
		t.Errorf("after the rollback:\n%s", got)
	}
	if got := status(t, d, "Version"); !strings.Contains(got, `SystemUnit Software Version: "X14.3.0-vxway"`) {
		t.Errorf("xstatus SystemUnit Software Version:\n%s", got)
	}

	// A later good upgrade clears the alarm.
	p4 := writeBundle(t, t.TempDir(), bundleSpec{version: "X14.5.0-vxway"})
	if _, err := d.dev.Install(context.Background(), p4, Options{}); err != nil {
		t.Fatal(err)
	}
	bootDevice(t, d, true)
	if _, ok, _ := platform.NewAlarms(d.root, d.clock).Get(AlarmFailed); ok {
		t.Error("the alarm is still raised after a good upgrade")
	}
}

// TestPowerCutDuringUpgrade cuts the power after each step of the slot
// write; the next boot must come up (on the old version, or on the new
// one once its entry was written) and the record must say what happened.
func TestPowerCutDuringUpgrade(t *testing.T) {
	errCut := errors.New("power cut")
	for cut := 0; ; cut++ {
		d := newDevice(t)
		bootDevice(t, d, true)
		p := writeBundle(t, t.TempDir(), bundleSpec{version: "X14.3.0-vxway"})
		steps := 0
		var last slot.Step
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = errCut
				}
			}()
			_, err = d.dev.Install(context.Background(), p, Options{Progress: func(s slot.Step, _ string) {
				last = s
				if steps == cut {
					panic(errCut)
				}
				steps++
			}})
			return err
		}()
		if err == nil {
			return
		}
		n := bootDevice(t, d, true)
		st, _ := LoadState(d.root)
		switch {
		case last == slot.StepEntryWritten:
			if n != slot.B || st.Last.Result != ResultInstalled {
				t.Errorf("cut after the entry: booted %s, result %s; want B installed", n, st.Last.Result)
			}
		default:
			if n != slot.A || st.Last.Result != ResultInterrupted {
				t.Errorf("cut after %q: booted %s, result %s; want A, interrupted", last, n, st.Last.Result)
			}
		}
	}
}

// fakeSystem stands for init's system service.
type fakeSystem struct {
	urls []string
	res  sysclient.UpgradeResult
	err  error
}

func (f *fakeSystem) Upgrade(_ context.Context, url string, _ func(string)) (sysclient.UpgradeResult, error) {
	f.urls = append(f.urls, url)
	return f.res, f.err
}

func TestUpgradeCommandRefusesBadURL(t *testing.T) {
	d := newDevice(t)
	tree := &xapi.Tree{}
	sys := &fakeSystem{res: sysclient.UpgradeResult{Version: "X", Slot: "B"}}
	(&XAPI{Root: d.root, Clock: d.clock, System: sys}).Register(tree)
	for _, args := range [][]xapi.Arg{nil, {{Name: "URL", Value: ""}}, {{Name: "URL", Value: "http://h/x"}, {Name: "Force", Value: "yes"}}, {{Name: "URL", Value: "http://h/" + strings.Repeat("x", sysclient.MaxURL)}}} {
		var out bytes.Buffer
		err := tree.Serve(context.Background(), &xapi.Request{Kind: xapi.Command, Path: []string{"SystemUnit", "Upgrade"}, Args: args}, xapi.NewWriter(&out))
		if err == nil || !strings.Contains(out.String(), "ERROR") {
			t.Errorf("args %v: %v\n%s", args, err, out.String())
		}
	}
	if len(sys.urls) != 0 {
		t.Errorf("a refused request reached the system service: %q", sys.urls)
	}
}

// TestUpgradeCommandAsksTheSystemService: the xAPI command hands the URL
// to the system service and answers with its result, quoted; a refusal
// of the service is the command's ERROR reason.
func TestUpgradeCommandAsksTheSystemService(t *testing.T) {
	d := newDevice(t)
	for _, tc := range []struct {
		name string
		sys  *fakeSystem
		want []string
	}{
		{"installed", &fakeSystem{res: sysclient.UpgradeResult{Version: "X14.3.0-vxway", Slot: "B"}},
			[]string{`*r SystemUnit Upgrade Version: "X14.3.0-vxway"`, `*r SystemUnit Upgrade Slot: "B"`, `*r SystemUnit Upgrade Status: "written and verified; restarting into the new version"`, "OK"}},
		{"refused", &fakeSystem{err: fmt.Errorf("%w: bad \x1b[2J", ErrDowngrade)},
			[]string{`*r Reason: "bundle version is below the minimum version: bad \e[2J"`, "ERROR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := &xapi.Tree{}
			(&XAPI{Root: d.root, Clock: d.clock, System: tc.sys}).Register(tree)
			var out bytes.Buffer
			tree.Serve(context.Background(), &xapi.Request{Kind: xapi.Command, Path: []string{"SystemUnit", "Upgrade"}, Args: []xapi.Arg{{Name: "URL", Value: "http://h/b.vxu"}}}, xapi.NewWriter(&out))
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("answer lacks %q:\n%s", w, out.String())
				}
			}
			if strings.ContainsRune(out.String(), 0x1b) {
				t.Errorf("an escape reached the terminal:\n%q", out.String())
			}
			if len(tc.sys.urls) != 1 || tc.sys.urls[0] != "http://h/b.vxu" {
				t.Errorf("the service was asked %q", tc.sys.urls)
			}
		})
	}
}
