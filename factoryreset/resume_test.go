package factoryreset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vxway/clock"
	"vxway/platform"
	"vxway/testsupport"
)

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// powerCut is the panic value of a simulated power loss.
type powerCut struct{ at string }

// fakeDisk plays the data partition: its content lives in part while it is
// not mounted and is moved onto root/data when mounted. Writes made to the
// bare mount point live in RAM and vanish at the next boot, as on the
// device. A half-made filesystem cannot be mounted.
type fakeDisk struct {
	t       testing.TB
	root    string
	part    string
	mounted bool
	corrupt bool
	calls   []string
	fail    map[string]error // method name -> error it returns
	step    func(string)     // shared power-cut counter
}

func newFakeDisk(t testing.TB, root string) *fakeDisk {
	d := &fakeDisk{t: t, root: root, part: filepath.Join(t.TempDir(), "part")}
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *fakeDisk) at(what string) {
	if d.step != nil {
		d.step(what)
	}
}

func (d *fakeDisk) mountpoint() string { return filepath.Join(d.root, "data") }

func (d *fakeDisk) MountData(ctx context.Context) error {
	d.calls = append(d.calls, "mount")
	if err := d.fail["mount"]; err != nil {
		return err
	}
	if d.mounted {
		return nil
	}
	if d.corrupt {
		return errors.New("mount: wrong fs type, bad superblock")
	}
	if _, err := os.Stat(d.part); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Join(d.part, "lost+found"), 0o700); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(d.mountpoint()); err != nil {
		return err
	}
	if err := os.Rename(d.part, d.mountpoint()); err != nil {
		return err
	}
	d.mounted = true
	return nil
}

func (d *fakeDisk) UnmountData(ctx context.Context) error {
	d.calls = append(d.calls, "unmount")
	if err := d.fail["unmount"]; err != nil {
		return err
	}
	if !d.mounted {
		return nil
	}
	if err := os.Rename(d.mountpoint(), d.part); err != nil {
		return err
	}
	d.mounted = false
	return os.Mkdir(d.mountpoint(), 0o755)
}

func (d *fakeDisk) MakeData(ctx context.Context) error {
	d.calls = append(d.calls, "mkfs")
	if d.mounted {
		d.t.Errorf("MakeData called with data mounted")
		return errors.New("device busy")
	}
	if err := d.fail["mkfs"]; err != nil {
		return err
	}
	// mke2fs overwrites the partition in stages: a power cut in the
	// middle leaves something that does not mount.
	d.corrupt = true
	if err := os.RemoveAll(d.part); err != nil {
		return err
	}
	if err := os.MkdirAll(d.part, 0o755); err != nil {
		return err
	}
	d.at("mkfs half done")
	if err := os.Mkdir(filepath.Join(d.part, "lost+found"), 0o700); err != nil {
		return err
	}
	d.corrupt = false
	return nil
}

// reboot is a power cycle: what was written to disk stays, data is not
// mounted, the bare mount point is empty again.
func (d *fakeDisk) reboot() {
	if d.mounted {
		if err := os.Rename(d.mountpoint(), d.part); err != nil {
			d.t.Fatal(err)
		}
		d.mounted = false
	}
	if err := os.RemoveAll(d.mountpoint()); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Mkdir(d.mountpoint(), 0o755); err != nil {
		d.t.Fatal(err)
	}
}

// deviceFiles is what a used device holds, by path below the root.
func deviceFiles() map[string]string {
	return map[string]string{
		"data/config/system.json":           `{"hostname":"expe01","domain":"example.com","brand":"Expressway","type":"Expressway-E","smart_licensing_enabled":true,"smart_licensing_enabled_at":"2026-05-01T00:00:00Z"}`,
		"data/config/network.json":          `{"eth0":{"mode":"static","address":"192.0.2.10/24"},"dns":["192.0.2.53"]}`,
		"data/config/fips.json":             `{"enabled":true}`,
		"data/config/management.json":       `{"interface":"eth1","address":"198.51.100.7/24"}`,
		"data/licensing/state.json":         `{"registered":true,"transport":"onprem","url":"https://ssm.example.com/SmartTransport"}`,
		"data/licensing/keys/identity.key":  "EC PRIVATE KEY",
		"data/alarms/30042.json":            `{"id":30042}`,
		"data/alarms/30044.json":            `{"id":30044}`,
		"data/alarms/40003.json":            `{"id":40003}`,
		"data/alarms/15009.json":            `{"id":15009}`,
		"data/ssh/ssh_host_ed25519_key":     "HOST KEY",
		"data/ssh/ssh_host_ed25519_key.pub": "ssh-ed25519 AAAA",
		"data/certs/server.crt":             "CERT",
		"data/certs/server.key":             "KEY",
		"data/certs/trust/ca.pem":           "CA",
		"data/users/passwd.json":            `{"root":"$6$x$y","admin":"$6$x$z"}`,
		"data/log/init.log":                 "boot 1\n",
		"data/log/smartagent.log.1":         "older\n",
		"data/optionkeys/1.json":            `{"key":"116341G00-1-AAAA"}`,
		"data/provisioning/state.json":      `{"result":"applied"}`,
		"persist/identity.json":             `{"serial":"4A3B2C1D"}`,
		"persist/licensing/anchor.json":     `{"evaluation_start":"2026-01-01T00:00:00Z"}`,
		"persist/optionkeys/msinterop.json": `{"key":"MSINTEROP"}`,
	}
}

// newDevice makes a root with a used device's files; data is mounted, as
// the tool sees it before the reboot.
func newDevice(t testing.TB) (string, *fakeDisk) {
	t.Helper()
	// The image's own defaults say Expressway: a reset that does not keep
	// brand and type must still end as VCS.
	info := testsupport.ImageInfo(t, "Expressway")
	info.Hostname = "vxway"
	root := testsupport.DeviceRoot(t, info)
	d := newFakeDisk(t, root)
	if err := d.MountData(context.Background()); err != nil {
		t.Fatal(err)
	}
	for rel, content := range deviceFiles() {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.Contains(rel, "key") {
			mode = 0o600
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("smartagent.log.1", filepath.Join(root, "data/log/smartagent.log")); err != nil {
		t.Fatal(err)
	}
	return root, d
}

// tree lists the files below dir (relative, slash-separated) with their
// mode and content; symlinks show their target.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%v %s", fi.Mode().Perm(), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// covered reports whether data path rel (relative to the root) is kept
// whole by plan p.
func covered(p Plan, rel string) bool {
	for _, kp := range p.Paths() {
		if len(kp.Fields) > 0 {
			continue
		}
		pat := strings.TrimSuffix(kp.Pattern, "/")
		if strings.HasSuffix(kp.Pattern, "/") && strings.HasPrefix(rel, pat+"/") {
			return true
		}
		if ok, _ := path.Match(pat, rel); ok {
			return true
		}
	}
	return false
}

// checkReset checks a root after a finished reset of plan p whose data
// before the reset was before.
func checkReset(t *testing.T, root string, p Plan, before map[string]string) {
	t.Helper()
	checkResetData(t, root, p, before)
	for _, rel := range []string{StageDir, ProgressPath, RequestPath} {
		if _, err := os.Lstat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind after the reset", rel)
		}
	}
}

// checkResetData checks a reset reported done, whose stage and progress
// may still wait for the next boot's cleanup.
func checkResetData(t *testing.T, root string, p Plan, before map[string]string) {
	t.Helper()
	after := tree(t, filepath.Join(root, "data"))
	want := map[string]string{}
	for rel, v := range before {
		if covered(p, "data/"+rel) {
			want[rel] = v
		}
	}
	delete(after, "config/system.json")
	delete(after, "config/.system.json.lock") // the platform's lock for system.json
	for rel, v := range want {
		if after[rel] != v {
			t.Errorf("kept data/%s = %q, want %q", rel, after[rel], v)
		}
	}
	for rel := range after {
		if _, ok := want[rel]; !ok {
			t.Errorf("data/%s survived the reset, and the plan does not keep it", rel)
		}
	}
	c, err := platform.LoadSystemConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	wantC := platform.SystemConfig{Hostname: "vxway", Brand: platform.BrandVCS, Type: platform.TypeC}
	if p.Keeps(BrandType) {
		wantC = platform.SystemConfig{Hostname: "vxway", Brand: platform.BrandExpressway, Type: platform.TypeE, SmartLicensingEnabled: true,
			SmartLicensingEnabledAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	}
	if c != wantC {
		t.Errorf("system config after reset = %+v, want %+v", c, wantC)
	}
	for rel, content := range deviceFiles() {
		if !strings.HasPrefix(rel, "persist/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || string(b) != content {
			t.Errorf("%s = %q, %v; want it untouched", rel, b, err)
		}
	}
	st, err := ReadStatus(root)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateDone || !slices.Equal(st.Result.Keep, NewRequest(p, testNow).Keep) {
		t.Errorf("status = %+v, want done keeping %v", st, p.Keep)
	}
}

func newExecutor(root string, d *fakeDisk, log io.Writer) *Executor {
	return &Executor{Root: root, Disk: d, Log: log, Clock: clock.NewFake(testNow.Add(time.Minute))}
}

func submit(t testing.TB, root string, brand platform.Brand, keep ...Item) Plan {
	t.Helper()
	p, err := NewPlan(brand, keep...)
	if err != nil {
		t.Fatal(err)
	}
	if err := Submit(root, p, testNow); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResumeKeeps(t *testing.T) {
	tests := []struct {
		name string
		keep []Item
	}{
		{"nothing", nil},
		{"everything", ItemsFor(platform.BrandExpressway)},
		{"licensing only", []Item{Licensing}},
		{"brand and ssh", []Item{BrandType, SSHKeys}},
		{"certificates passwords logs", []Item{Certificates, Passwords, Logs}},
		{"fips ip management", []Item{FIPS, IP, Management}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, d := newDevice(t)
			before := tree(t, filepath.Join(root, "data"))
			p := submit(t, root, platform.BrandExpressway, tt.keep...)
			d.reboot()
			var log bytes.Buffer
			if err := newExecutor(root, d, &log).Resume(context.Background()); err != nil {
				t.Fatalf("Resume: %v\n%s", err, log.String())
			}
			if !d.mounted {
				t.Error("data not mounted after Resume")
			}
			checkReset(t, root, p, before)
		})
	}
}

func TestResumeVCSKeepsOptionKeys(t *testing.T) {
	root, d := newDevice(t)
	p := submit(t, root, platform.BrandVCS, OptionKeys)
	d.reboot()
	if err := newExecutor(root, d, nil).Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "data/optionkeys/1.json"))
	if err != nil || !strings.Contains(string(b), "116341G00") {
		t.Errorf("option key after reset: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "data/licensing")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("licensing state survived")
	}
	_ = p
}

func TestResumeWithoutRequestOnlyMounts(t *testing.T) {
	root, d := newDevice(t)
	before := tree(t, filepath.Join(root, "data"))
	d.reboot()
	if err := newExecutor(root, d, nil).Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.calls[1:], []string{"mount"}) {
		t.Errorf("disk calls = %v, want one mount", d.calls[1:])
	}
	if got := tree(t, filepath.Join(root, "data")); len(got) != len(before) {
		t.Errorf("data changed without a request: %d files, was %d", len(got), len(before))
	}
	st, err := ReadStatus(root)
	if err != nil || st.State != StateNone {
		t.Errorf("status = %v, %v; want none", st.State, err)
	}
}

// runCut runs Resume and reports whether the power was cut at step n
// (counting from 1; 0 never cuts). It returns the number of steps passed.
func runCut(t *testing.T, root string, d *fakeDisk, n int) (steps int, cut bool, err error) {
	t.Helper()
	e := newExecutor(root, d, nil)
	hook := func(what string) {
		steps++
		if steps == n {
			panic(powerCut{what})
		}
	}
	e.step, d.step = hook, hook
	defer func() {
		d.step = nil
		if r := recover(); r != nil {
			if _, ok := r.(powerCut); !ok {
				panic(r)
			}
			cut = true
		}
	}()
	err = e.Resume(context.Background())
	return steps, false, err
}

// TestPowerCutAtEveryStep cuts the power at every step boundary of the
// reset (and at the middle of mke2fs), boots again, and checks the reset
// finishes with the kept items intact; a second cut during the resumed
// run must not hurt either.
func TestPowerCutAtEveryStep(t *testing.T) {
	plans := []struct {
		name   string
		keep   []Item
		double bool // also cut the resumed run (every third step)
	}{
		{"everything", ItemsFor(platform.BrandExpressway), true},
		{"licensing and logs", []Item{Licensing, Logs}, false},
		{"nothing", nil, true},
	}
	for _, pl := range plans {
		t.Run(pl.name, func(t *testing.T) {
			root, d := newDevice(t)
			submit(t, root, platform.BrandExpressway, pl.keep...)
			d.reboot()
			total, cut, err := runCut(t, root, d, 0)
			if err != nil || cut {
				t.Fatalf("uncut run: %v, cut %v", err, cut)
			}
			if total < 10 {
				t.Fatalf("only %d steps: the hook is not wired", total)
			}
			for n := 1; n <= total; n++ {
				seconds := []int{0}
				if pl.double && n%3 == 0 {
					seconds = append(seconds, n/2+1)
				}
				for _, second := range seconds {
					t.Run(fmt.Sprintf("cut%d-then%d", n, second), func(t *testing.T) {
						root, d := newDevice(t)
						before := tree(t, filepath.Join(root, "data"))
						p := submit(t, root, platform.BrandExpressway, pl.keep...)
						d.reboot()
						_, cut, err := runCut(t, root, d, n)
						if !cut {
							t.Fatalf("power not cut at step %d (err %v)", n, err)
						}
						d.reboot()
						st, err := ReadStatus(root)
						if err != nil {
							t.Fatal(err)
						}
						if st.State == StateDone {
							// Reported done: it must really be done.
							if err := d.MountData(context.Background()); err != nil {
								t.Fatal(err)
							}
							checkResetData(t, root, p, before)
							d.reboot()
						} else if st.State != StateInProgress {
							t.Fatalf("after a cut at step %d status is %s", n, st.State)
						}
						if second > 0 {
							if _, cut, _ := runCut(t, root, d, second); cut {
								d.reboot()
							}
						}
						if _, cut, err := runCut(t, root, d, 0); err != nil || cut {
							t.Fatalf("resumed run: %v", err)
						}
						checkReset(t, root, p, before)
					})
				}
			}
		})
	}
}

// TestFailures checks what a failing step leaves: before data is touched
// the request is dropped and nothing changes; after, the request stays for
// the next boot, which finishes the reset. Both raise 15013.
func TestFailures(t *testing.T) {
	errMkfs := errors.New("mke2fs: exit status 1")
	tests := []struct {
		name       string
		fail       map[string]error
		wantRetry  bool
		wantReason string
	}{
		{"staging cannot mount data", map[string]error{"mount": errors.New("no data partition")}, false, "no data partition"},
		{"mke2fs fails", map[string]error{"mkfs": errMkfs}, true, "mke2fs: exit status 1"},
		{"unmount busy", map[string]error{"unmount": errors.New("device busy")}, true, "device busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, d := newDevice(t)
			before := tree(t, filepath.Join(root, "data"))
			p := submit(t, root, platform.BrandExpressway, SSHKeys, Passwords)
			d.reboot()
			d.fail = tt.fail
			var log bytes.Buffer
			err := newExecutor(root, d, &log).Resume(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantReason) {
				t.Fatalf("Resume = %v, want an error naming %q", err, tt.wantReason)
			}
			st, serr := ReadStatus(root)
			if serr != nil {
				t.Fatal(serr)
			}
			if tt.wantRetry {
				if st.State != StateInProgress || !strings.Contains(st.Progress.LastError, tt.wantReason) {
					t.Errorf("status %s, last error %q; want in progress with the reason", st.State, st.Progress.LastError)
				}
				if !strings.Contains(st.String(), "retried at the next boot") {
					t.Errorf("status text does not say the reset is retried:\n%s", st)
				}
			} else {
				if st.State != StateFailed || !strings.Contains(st.Result.Reason, "nothing was changed") {
					t.Errorf("status %s %+v; want failed, nothing changed", st.State, st.Result)
				}
			}
			// 15013 is raised where data is usable.
			d.fail = nil
			if err := d.MountData(context.Background()); err != nil {
				t.Fatal(err)
			}
			al, raised, err := platform.NewAlarms(root, nil).Get(platform.AlarmFactoryResetFailed)
			if tt.name != "staging cannot mount data" {
				if err != nil || !raised || !strings.Contains(al.Detail, tt.wantReason) {
					t.Errorf("alarm 15013 = %+v raised %v (%v); want it raised with the reason", al, raised, err)
				}
			}
			if !tt.wantRetry {
				if got := tree(t, filepath.Join(root, "data")); len(got) != len(before) {
					t.Errorf("data changed by a failed staging")
				}
				return
			}
			d.reboot()
			if err := newExecutor(root, d, nil).Resume(context.Background()); err != nil {
				t.Fatalf("retry: %v", err)
			}
			checkReset(t, root, p, before)
		})
	}
}

// TestStagingFailureChangesNothing breaks persist under the staging: the
// reset is dropped, data is as it was, 15009 is lowered and 15013 raised.
func TestStagingFailureChangesNothing(t *testing.T) {
	root, d := newDevice(t)
	if err := platform.NewAlarms(root, nil).Raise(platform.AlarmFactoryResetStarted, "requested"); err != nil {
		t.Fatal(err)
	}
	before := tree(t, filepath.Join(root, "data"))
	submit(t, root, platform.BrandExpressway, Logs, SSHKeys)
	d.reboot()
	e := newExecutor(root, d, nil)
	e.step = func(what string) {
		if what == "data mounted for staging" {
			// A file where the stage's directories go: every copy fails.
			if err := os.MkdirAll(filepath.Join(root, StageDir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, StageDir, "files"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := e.Resume(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("Resume = %v, want a failure that changed nothing", err)
	}
	after := tree(t, filepath.Join(root, "data"))
	delete(before, "alarms/15009.json")
	delete(after, "alarms/15013.json")
	if len(after) != len(before) {
		t.Errorf("data changed by a failed staging: %d files, was %d", len(after), len(before))
	}
	for rel, v := range before {
		if after[rel] != v {
			t.Errorf("data/%s changed: %q, was %q", rel, after[rel], v)
		}
	}
	a := platform.NewAlarms(root, nil)
	if _, on, _ := a.Get(platform.AlarmFactoryResetStarted); on {
		t.Error("15009 still raised after the reset was dropped")
	}
	if al, on, _ := a.Get(platform.AlarmFactoryResetFailed); !on || !strings.Contains(al.Detail, "saving the kept items") {
		t.Errorf("15013 = %+v, raised %v; want it raised naming the phase", al, on)
	}
	st, err := ReadStatus(root)
	if err != nil || st.State != StateFailed {
		t.Fatalf("status %v, %v; want failed", st.State, err)
	}
	if _, err := os.Stat(filepath.Join(root, StageDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("stage left behind")
	}
	// The next boot is an ordinary one.
	d.reboot()
	if err := newExecutor(root, d, nil).Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkResume measures a whole reset keeping everything, with 4 MiB
// of logs, on the host's filesystem (every file and directory fsynced).
func BenchmarkResume(b *testing.B) {
	t := b
	for b.Loop() {
		b.StopTimer()
		root, d := newDevice(t)
		for k := range 4 {
			p := filepath.Join(root, fmt.Sprintf("data/log/service%d.log", k))
			if err := os.WriteFile(p, bytes.Repeat([]byte("log line\n"), 1<<20/9), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		submit(t, root, platform.BrandExpressway, ItemsFor(platform.BrandExpressway)...)
		d.reboot()
		b.StartTimer()
		if err := newExecutor(root, d, nil).Resume(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
