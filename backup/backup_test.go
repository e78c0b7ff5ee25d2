package backup

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/agent"
	"vxway/clock"
	"vxway/login"
	"vxway/netsettings"
	"vxway/platform"
	"vxway/servercert"
	"vxway/testsupport"
)

// fastKDF keeps the tests quick; the device's archives use DefaultKDF.
var fastKDF = KDF{Name: "argon2id", Time: 1, MemoryKiB: 8 << 10, Threads: 1}

const password = "backup-pass-1"

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// fakeLicensing stands for the agent: its files, checked with the agent's
// own parsers.
type fakeLicensing struct{ files map[string][]byte }

func (f *fakeLicensing) BackupFiles(context.Context) (map[string][]byte, error) { return f.files, nil }
func (f *fakeLicensing) CheckBackupFiles(_ context.Context, files map[string][]byte) error {
	return agent.CheckBackupFiles(files)
}

// newDevice makes a device root with the given SMBIOS UUID (its serial
// follows from it) and software version, and every backed-up item set.
func newDevice(t *testing.T, uuid, version string) *Device {
	t.Helper()
	info := testsupport.ImageInfo(t, "Expressway")
	info.SoftwareVersion = version
	root := testsupport.DeviceRoot(t, info)
	testsupport.WriteFiles(t, root, map[string]string{"sys/class/dmi/id/product_uuid": uuid + "\n"})
	if _, err := platform.LoadIdentity(root, nil); err != nil {
		t.Fatal(err)
	}
	return &Device{Root: root, Clock: clock.NewFake(now), KDF: fastKDF, Licensing: &fakeLicensing{}}
}

// configure sets every item on d, named after tag.
func configure(t *testing.T, d *Device, tag string) {
	t.Helper()
	sc := platform.SystemConfig{Hostname: "host-" + tag, Domain: "example.test", Brand: platform.BrandExpressway, Type: platform.TypeE, SmartLicensingEnabled: true}
	if err := platform.SaveSystemConfig(d.Root, sc); err != nil {
		t.Fatal(err)
	}
	nc := netsettings.Default()
	nc.DNSServers = []string{"10.0.2." + map[string]string{"a": "2", "b": "3"}[tag]}
	if err := netsettings.Save(d.Root, nc); err != nil {
		t.Fatal(err)
	}
	if err := platform.NewUsers(d.Root, nil).SetPassword("admin", "admin-pass-"+tag); err != nil {
		t.Fatal(err)
	}
	if _, _, err := login.LoadOrMakeHostKey(filepath.Join(d.Root, login.HostKeyDir)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := servercert.LoadOrMakeCert(d.Root, "host-"+tag, now); err != nil {
		t.Fatal(err)
	}
	d.Licensing = &fakeLicensing{files: map[string][]byte{
		"config.json": []byte(`{"mode": "OnPrem", "url": "https://ssm-` + tag + `.example.test/SmartTransport"}`),
		"state.json":  []byte(`{"version": 1, "enabled": true}`),
	}}
	testsupport.WriteFiles(t, d.Root, map[string]string{
		"data/licensing/config.json": string(d.Licensing.(*fakeLicensing).files["config.json"]),
		"data/licensing/state.json":  string(d.Licensing.(*fakeLicensing).files["state.json"]),
	})
}

const (
	uuidA = "4c4c4544-0042-3510-8056-b4c04f4e3132"
	uuidB = "4c4c4544-0042-3510-8056-b4c04f4e3133"
)

// snapshot is every file below root/data except the restore's own state,
// the archives and the alarms (raised again by their owners), by path.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(filepath.Join(root, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (rel == stateDir || rel == Dir || rel == platform.AlarmDir) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return out
}

func diff(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			d = append(d, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, k)
		}
	}
	return d
}

// copyArchive puts the archive made on src into dst's backup directory.
func copyArchive(t *testing.T, src string, m Made, dst string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, m.Path))
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(m.Path)
	testsupport.WriteFiles(t, dst, map[string]string{filepath.Join(Dir, name): string(b)})
	return name
}

// TestCreateAndRestore backs up a device, changes everything, and
// restores: onto itself (every file as it was) and onto another device
// (same settings, marked as another device's).
func TestCreateAndRestore(t *testing.T) {
	a := newDevice(t, uuidA, "X14.2.0")
	configure(t, a, "a")
	want := snapshot(t, a.Root)
	m, err := a.Create(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Path, "/data/backup/vxway-backup-") || m.Size <= 0 || m.Files < 6 {
		t.Fatalf("made %+v", m)
	}
	if fi, err := os.Stat(filepath.Join(a.Root, m.Path)); err != nil || fi.Size() != m.Size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v, %v", fi, err)
	}
	b, _ := os.ReadFile(filepath.Join(a.Root, m.Path))
	for _, secret := range []string{"BEGIN", "ssm-a.example.test", "host-a"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the archive holds %q in clear", secret)
		}
	}

	t.Run("same device", func(t *testing.T) {
		configure(t, a, "b") // everything changes after the backup
		testsupport.WriteFiles(t, a.Root, map[string]string{"data/ssh/extra_key": "x"})
		st, err := a.Restore(context.Background(), filepath.Base(m.Path), password)
		if err != nil {
			t.Fatal(err)
		}
		if !st.SameDevice {
			t.Error("a device's own backup counts as another device's")
		}
		var log bytes.Buffer
		if err := Resume(a.Root, &log, clock.NewFake(now)); err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		if d := diff(want, snapshot(t, a.Root)); len(d) > 0 {
			t.Errorf("after the restore these differ from the backup: %v", d)
		}
		r, err := LoadResult(a.Root)
		if err != nil || r == nil || r.Result != ResultApplied || !r.SameDevice {
			t.Errorf("result %+v, %v", r, err)
		}
		if st, _ := LoadStaged(a.Root); st != nil {
			t.Error("the staged restore is still there")
		}
		if !strings.Contains(log.String(), "registration restored") {
			t.Errorf("console: %s", log.String())
		}
	})
	t.Run("other device", func(t *testing.T) {
		b := newDevice(t, uuidB, "X14.2.1")
		configure(t, b, "b")
		name := copyArchive(t, a.Root, m, b.Root)
		st, err := b.Restore(context.Background(), "/data/backup/"+name, password)
		if err != nil {
			t.Fatal(err)
		}
		if st.SameDevice {
			t.Error("another device's backup counts as this device's")
		}
		var log bytes.Buffer
		if err := Resume(b.Root, &log, nil); err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, b.Root)
		for _, p := range []string{platform.SystemConfigPath, netsettings.ConfigPath, "data/licensing/config.json", "data/users/passwd.json"} {
			if got[p] != want[p] {
				t.Errorf("%s was not restored", p)
			}
		}
		if !strings.Contains(log.String(), "register this one with a new token") {
			t.Errorf("console: %s", log.String())
		}
	})
}

// TestRestoreRefusals: each bad archive is refused with its reason, and
// the device is unchanged.
func TestRestoreRefusals(t *testing.T) {
	src := newDevice(t, uuidA, "X14.3.0")
	configure(t, src, "a")
	m, err := src.Create(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(src.Root, m.Path))
	hdrEnd := func() int {
		_, end, err := ReadHeader(good, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		return end
	}()
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	sealWith := func(h Header, files []File) []byte {
		h.KDF = fastKDF
		b, err := Seal(h, files, password)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		archive  []byte
		file     string
		password string
		running  string
		want     error
		reason   string
	}{
		{name: "wrong password", archive: good, password: "another-pass", want: ErrWrongPassword},
		{name: "payload changed", archive: flip(len(good) - 40), want: ErrTampered},
		{name: "tag changed", archive: flip(len(good) - 1), want: ErrTampered},
		{name: "header changed", archive: bytes.Replace(good, []byte(`"serial":"`), []byte(`"serial":"0`), 1), want: ErrTampered},
		{name: "truncated", archive: good[:len(good)-100], want: ErrTruncated},
		{name: "truncated in the header", archive: good[:hdrEnd-5], want: ErrTruncated},
		{name: "trailing bytes", archive: append(bytes.Clone(good), 0), want: ErrTampered},
		{name: "not a backup", archive: []byte("hello world, not a backup at all"), want: ErrNotBackup},
		{name: "empty", archive: []byte{}, want: ErrNotBackup},
		{name: "newer software", archive: good, running: "X14.2.0", want: ErrNewerVersion, reason: "X14.3.0"},
		{name: "no such file", file: "missing.vxb", want: ErrBadFile},
		{name: "file outside the backup directory", file: "../config/system.json", want: ErrBadFile},
		{name: "absolute path elsewhere", file: "/etc/passwd", want: ErrBadFile},
		{name: "settings the owner refuses", archive: sealWith(Header{SoftwareVersion: "X14.3.0", Serial: "0A0A0A0A"},
			[]File{{Path: platform.SystemConfigPath, Mode: 0o644, Data: []byte(`{"hostname": "-bad-", "brand": "Expressway", "type": "Expressway-C", "smart_licensing_enabled": true}`)}}),
			want: ErrInvalid, reason: "hostname"},
		{name: "licensing files the agent refuses", archive: sealWith(Header{SoftwareVersion: "X14.3.0", Serial: "0A0A0A0A"},
			[]File{{Path: "data/licensing/state.json", Mode: 0o600, Data: []byte(`{"version": 7}`)}}),
			want: ErrInvalid, reason: "version 7"},
		{name: "a file of no item", archive: sealWith(Header{SoftwareVersion: "X14.3.0", Serial: "0A0A0A0A"},
			[]File{{Path: "data/provisioning/state.json", Mode: 0o600, Data: []byte(`{}`)}}),
			want: ErrInvalid, reason: "not a file of any item"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			running := tc.running
			if running == "" {
				running = "X14.3.0"
			}
			d := newDevice(t, uuidB, running)
			configure(t, d, "b")
			file := tc.file
			if file == "" {
				file = "x.vxb"
				testsupport.WriteFiles(t, d.Root, map[string]string{filepath.Join(Dir, file): string(tc.archive)})
			}
			pw := tc.password
			if pw == "" {
				pw = password
			}
			before := snapshot(t, d.Root)
			_, err := d.Restore(context.Background(), file, pw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Restore = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("reason %q does not say %q", err, tc.reason)
			}
			if st, _ := LoadStaged(d.Root); st != nil {
				t.Error("a refused archive was staged")
			}
			if err := Resume(d.Root, &bytes.Buffer{}, nil); err != nil {
				t.Fatal(err)
			}
			if dd := diff(before, snapshot(t, d.Root)); len(dd) > 0 {
				t.Errorf("the refusal changed %v", dd)
			}
		})
	}
}

// TestKDFBounds: an archive asking for more memory, passes or lanes than
// the device allows, or for a trivially cheap derivation, is refused before
// any key is derived.
func TestKDFBounds(t *testing.T) {
	b, err := Seal(Header{SoftwareVersion: "X1", KDF: fastKDF}, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"1 TiB", `"memory_kib":8192`, `"memory_kib":1073741824`},
		{"64 KiB", `"memory_kib":8192`, `"memory_kib":64`},
		{"1000 passes", `"time":1,`, `"time":1000,`},
		{"200 lanes", `"threads":1,`, `"threads":200,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := bytes.Replace(b, []byte(tc.from), []byte(tc.to), 1)
			if bytes.Equal(changed, b) {
				t.Fatalf("the header has no %s", tc.from)
			}
			// The header length changed too.
			_, end, _ := ReadHeader(b, DefaultLimits)
			n := end - len(magic) - 4 + len(tc.to) - len(tc.from)
			changed[len(magic)], changed[len(magic)+1], changed[len(magic)+2], changed[len(magic)+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
			if _, _, err := Open(changed, password, DefaultLimits); !errors.Is(err, ErrTooCostly) {
				t.Errorf("Open = %v, want ErrTooCostly", err)
			}
		})
	}
}

// TestApplyFailureAndPowerCut: a write that fails puts every file back;
// a power cut in the middle of applying is undone at the next boot and
// the restore applied whole.
func TestApplyFailureAndPowerCut(t *testing.T) {
	a := newDevice(t, uuidA, "X14.2.0")
	configure(t, a, "a")
	want := snapshot(t, a.Root)
	m, err := a.Create(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("failure", func(t *testing.T) {
		d := newDevice(t, uuidA, "X14.2.0")
		configure(t, d, "b")
		name := copyArchive(t, a.Root, m, d.Root)
		if _, err := d.Restore(context.Background(), name, password); err != nil {
			t.Fatal(err)
		}
		// The key file of the archive cannot be written: a directory
		// stands in its way (after the others are written).
		before := snapshot(t, d.Root)
		os.Remove(filepath.Join(d.Root, servercert.KeyPath))
		delete(before, servercert.KeyPath)
		if err := os.MkdirAll(filepath.Join(d.Root, servercert.KeyPath, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if err := Resume(d.Root, &log, nil); err == nil {
			t.Fatal("the restore succeeded through a directory")
		}
		if dd := diff(before, snapshot(t, d.Root)); len(dd) > 0 {
			t.Errorf("a failed restore changed %v", dd)
		}
		if r, _ := LoadResult(d.Root); r == nil || r.Result != ResultFailed || r.Reason == "" {
			t.Errorf("result %+v", r)
		}
	})
	t.Run("power cut", func(t *testing.T) {
		d := newDevice(t, uuidA, "X14.2.0")
		configure(t, d, "b")
		name := copyArchive(t, a.Root, m, d.Root)
		st, err := d.Restore(context.Background(), name, password)
		if err != nil {
			t.Fatal(err)
		}
		// Power cut after half the files: the journal is there.
		current, _ := filesUnder(d.Root, allPatterns())
		paths := current
		for _, f := range st.Files {
			paths = append(paths, f.Path)
		}
		if _, err := journalBegin(d.Root, paths); err != nil {
			t.Fatal(err)
		}
		for _, f := range st.Files[:len(st.Files)/2] {
			testsupport.WriteFiles(t, d.Root, map[string]string{f.Path: "half"})
		}
		var log bytes.Buffer
		if err := Resume(d.Root, &log, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "interrupted restore was undone") {
			t.Errorf("console: %s", log.String())
		}
		if dd := diff(want, snapshot(t, d.Root)); len(dd) > 0 {
			t.Errorf("after the power cut and the next boot these differ from the backup: %v", dd)
		}
	})
}

func TestCreateRefusesShortPassword(t *testing.T) {
	d := newDevice(t, uuidA, "X14.2.0")
	if _, err := d.Create(context.Background(), "short"); !errors.Is(err, platform.ErrWeakPassword) {
		t.Errorf("Create with a 5-character password = %v", err)
	}
}

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		backup, running string
		ok              bool
	}{
		{"X14.2.0", "X14.2.0", true},
		{"X14.2.0-vxway", "X14.2.0-vxway", true},
		{"X14.2.0", "X14.2.1", true},
		{"X14.2.0-vxway", "X14.3", true},
		{"X14.3.0", "X14.2.9", false},
		{"X15", "X14.9.9", false},
		{"X14.2.0.1", "X14.2.0", false},
		{"weird", "X14.2.0", false},
	} {
		t.Run(tc.backup+" on "+tc.running, func(t *testing.T) {
			err := CheckVersion(tc.backup, tc.running)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNewerVersion)) {
				t.Errorf("CheckVersion = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
