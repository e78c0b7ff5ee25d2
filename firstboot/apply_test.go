package firstboot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	seedfmt "vxway/firstboot/seed"
	"vxway/vm"

	"vxway/clock"
	"vxway/journal"
	"vxway/netsettings"
	"vxway/platform"
	"vxway/testsupport"
	"vxway/xapi"
)

var bootTime = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// device is a device root with image facts and, optionally, a seed disk.
type device struct {
	root string
	clk  *clock.Fake
}

func newDevice(t *testing.T, seed []byte) *device {
	t.Helper()
	info := testsupport.ImageInfo(t, "Expressway")
	info.SoftwareVersion, info.Hostname = "X14.2", "vxway"
	root := testsupport.DeviceRoot(t, info)
	writeDisks(t, root, seed)
	d := &device{root: root, clk: clock.NewFake(bootTime)}
	if err := platform.NewUsers(root, d.clk).SyncAlarms(); err != nil {
		t.Fatal(err)
	}
	return d
}

// attach replaces the seed disk (nil detaches it).
func (d *device) attach(t *testing.T, seed []byte) {
	t.Helper()
	p := filepath.Join(d.root, "dev/vdb")
	os.Remove(p)
	if seed != nil {
		if err := vm.WriteSeedDisk(p, seed); err != nil {
			t.Fatal(err)
		}
	}
}

// boot runs the provisioning of one boot and returns its console output.
func (d *device) boot(t *testing.T) (string, error) {
	t.Helper()
	var log bytes.Buffer
	p := &provisioner{root: d.root, log: &log, clock: d.clk, sources: []Source{&DiskSource{Root: d.root}}}
	err := p.apply(context.Background())
	d.clk.Advance(time.Hour)
	return log.String(), err
}

func (d *device) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(d.root, rel))
	return err == nil
}

func (d *device) alarm(id int) bool {
	return d.exists(filepath.Join(platform.AlarmDir, strconv.Itoa(id)+".json"))
}

func (d *device) state(t *testing.T) *State {
	t.Helper()
	st, err := LoadState(d.root)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestApplyFullSeed(t *testing.T) {
	d := newDevice(t, []byte(testsupport.FullSeed(t)))
	out, err := d.boot(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "firstboot: applied seed site-a-001 from VXPROV disk /dev/vdb") {
		t.Errorf("console:\n%s", out)
	}
	if strings.Contains(out, "tok-abc-123") || strings.Contains(out, "Adm1n-secret") {
		t.Errorf("console shows a secret:\n%s", out)
	}
	sys, err := platform.LoadSystemConfig(d.root)
	if err != nil {
		t.Fatal(err)
	}
	if sys.Hostname != "expwy-a" || sys.Domain != "example.test" || sys.Brand != platform.BrandExpressway || sys.Type != platform.TypeE || !sys.SmartLicensingEnabled {
		t.Errorf("system = %+v", sys)
	}
	nc, err := netsettings.Load(d.root)
	if err != nil {
		t.Fatal(err)
	}
	if nc.DHCP || nc.Address != "192.0.2.10" || nc.PrefixLength != 24 || nc.Gateway != "192.0.2.1" || nc.SearchDomain != "corp.example.test" || len(nc.DNSServers) != 2 {
		t.Errorf("network = %+v", nc)
	}
	users := platform.NewUsers(d.root, d.clk)
	if err := users.Check("admin", "Adm1n-secret"); err != nil {
		t.Errorf("admin password: %v", err)
	}
	if err := users.Check("root", "S3cure-pass"); err != nil {
		t.Errorf("root password from the $6$ hash: %v", err)
	}
	if keys, _ := users.AuthorizedKeys("admin"); len(keys) != 1 || !strings.HasPrefix(keys[0], "ssh-ed25519 ") {
		t.Errorf("admin keys = %v", keys)
	}
	if d.alarm(platform.AlarmDefaultAdminPassword) || d.alarm(platform.AlarmDefaultRootPassword) {
		t.Error("default password alarms still raised")
	}
	fi, err := os.Stat(filepath.Join(d.root, LicensingPath))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pending licensing: %v %v", fi, err)
	}
	st := d.state(t)
	if !st.Provisioned() || st.InstanceID != "site-a-001" || st.Source != "VXPROV disk /dev/vdb" || !st.AppliedAt.Equal(bootTime) || st.Licensing != LicensingPending {
		t.Errorf("state = %+v", st)
	}
	if d.exists(JournalPath) {
		t.Error("journal left behind")
	}
}

// TestRunOnce walks the run-once state machine over several boots.
func TestRunOnce(t *testing.T) {
	seedA := []byte("version = 1\ninstance_id = \"site-a\"\n[system]\nhostname = \"box-a\"\n")
	seedA2 := []byte("version = 1\ninstance_id = \"site-a\"\n[system]\nhostname = \"box-changed\"\n")
	seedB := []byte("version = 1\ninstance_id = \"site-b\"\n[system]\nhostname = \"box-b\"\n")
	bad := []byte("version = 1\ninstance_id = \"site-a\"\n[system]\nhostname = \"-x-\"\ncolour = 1\n")
	hostname := func(d *device) string {
		c, err := platform.LoadSystemConfig(d.root)
		if err != nil {
			t.Fatal(err)
		}
		return c.Hostname
	}
	d := newDevice(t, nil)
	type bootStep struct {
		name     string
		seed     []byte // attached for this boot; nil: none
		wipe     bool   // factory reset before this boot (data wiped)
		wantErr  error
		console  []string
		hostname string
		result   string // State.Last.Result, "" when no attempt recorded
		alarms   []int
	}
	closed := []string{"provisioning was closed on", "factory reset"}
	steps := []bootStep{
		{name: "bad seed", seed: bad, wantErr: seedfmt.ErrInvalid, console: []string{"rejected, nothing applied (2 problems)", "line 4: system.hostname", "line 5: system.colour: unknown key"}, hostname: "vxway", result: ResultRejected, alarms: []int{AlarmSeedRejected}},
		{name: "bad seed again", seed: bad, wantErr: seedfmt.ErrInvalid, hostname: "vxway", result: ResultRejected, alarms: []int{AlarmSeedRejected}},
		{name: "fixed seed", seed: seedA, console: []string{"applied seed site-a"}, hostname: "box-a", result: ResultApplied},
		{name: "same seed next boot", seed: seedA, console: []string{"seed site-a from VXPROV disk /dev/vdb was applied on 2026-11-27T14:00:00Z; not applying it again"}, hostname: "box-a", result: ResultApplied},
		{name: "same id, edited content", seed: seedA2, console: []string{"not applying it again"}, hostname: "box-a", result: ResultApplied},
		{name: "swapped seed refused", seed: seedB, wantErr: ErrRefused, console: []string{`refusing seed "site-b"`, `provisioned as "site-a"`, "factory reset"}, hostname: "box-a", result: ResultRefused, alarms: []int{AlarmSeedRefused}},
		{name: "seed detached", console: []string{"provisioned as site-a on"}, hostname: "box-a", result: ResultRefused},
		{name: "after factory reset", seed: seedB, wipe: true, console: []string{"applied seed site-b"}, hostname: "box-b", result: ResultApplied},
		{name: "reset, no seed: closes", wipe: true, console: []string{"firstboot: not provisioned (no VXPROV disk); provisioning is now closed"}, hostname: "vxway"},
		{name: "seed after closing refused", seed: seedA, wantErr: ErrRefused, console: append([]string{"refusing the seed from VXPROV disk /dev/vdb"}, closed...), hostname: "vxway", result: ResultRefused, alarms: []int{AlarmSeedRefused}},
		{name: "bad seed after closing refused", seed: bad, wantErr: ErrRefused, console: closed, hostname: "vxway", result: ResultRefused, alarms: []int{AlarmSeedRefused}},
		{name: "detached after closing", console: closed, hostname: "vxway", result: ResultRefused},
		{name: "factory reset reopens", seed: seedA, wipe: true, console: []string{"applied seed site-a"}, hostname: "box-a", result: ResultApplied},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.wipe {
				if err := os.RemoveAll(filepath.Join(d.root, "data")); err != nil {
					t.Fatal(err)
				}
			}
			d.attach(t, s.seed)
			out, err := d.boot(t)
			if (s.wantErr == nil) != (err == nil) || (s.wantErr != nil && !errors.Is(err, s.wantErr)) {
				t.Fatalf("boot error %v, want %v\n%s", err, s.wantErr, out)
			}
			for _, c := range s.console {
				if !strings.Contains(out, c) {
					t.Errorf("console lacks %q:\n%s", c, out)
				}
			}
			if h := hostname(d); h != s.hostname {
				t.Errorf("hostname %q, want %q", h, s.hostname)
			}
			st := d.state(t)
			got := ""
			if st.Last != nil {
				got = st.Last.Result
			}
			if got != s.result {
				t.Errorf("last result %q, want %q", got, s.result)
			}
			for _, id := range []int{AlarmSeedRejected, AlarmSeedRefused} {
				want := false
				for _, a := range s.alarms {
					want = want || a == id
				}
				if d.alarm(id) != want {
					t.Errorf("alarm %d raised %v, want %v", id, d.alarm(id), want)
				}
			}
		})
	}
}

// TestApplyAllOrNothing breaks the users step, after system and network
// were written: everything goes back.
func TestApplyAllOrNothing(t *testing.T) {
	d := newDevice(t, []byte(testsupport.FullSeed(t)))
	before := map[string][]byte{}
	for _, rel := range []string{netsettings.ConfigPath, platform.SystemConfigPath} {
		if d.exists(rel) {
			t.Fatalf("%s exists before the test", rel)
		}
	}
	// An existing system.json must come back byte for byte.
	if err := platform.SaveSystemConfig(d.root, platform.SystemConfig{Hostname: "old", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(d.root, platform.SystemConfigPath))
	before[platform.SystemConfigPath] = b
	// data/users as a plain file: the users store cannot write passwd.json.
	if err := os.WriteFile(filepath.Join(d.root, "data/users"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := d.boot(t)
	if err == nil {
		t.Fatalf("boot succeeded:\n%s", out)
	}
	if !strings.Contains(out, "applying seed site-a-001 from VXPROV disk /dev/vdb failed, nothing applied") {
		t.Errorf("console:\n%s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(d.root, platform.SystemConfigPath)); !bytes.Equal(got, before[platform.SystemConfigPath]) {
		t.Errorf("system.json not restored:\n%s", got)
	}
	for _, rel := range []string{netsettings.ConfigPath, LicensingPath, JournalPath} {
		if d.exists(rel) {
			t.Errorf("%s left behind", rel)
		}
	}
	st := d.state(t)
	if st.Provisioned() || st.Last == nil || st.Last.Result != ResultFailed {
		t.Errorf("state = %+v", st)
	}
	if !d.alarm(AlarmSeedRejected) {
		t.Error("alarm 45001 not raised")
	}
	// Once the obstacle is gone the same seed applies.
	os.Remove(filepath.Join(d.root, "data/users"))
	if out, err := d.boot(t); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !d.state(t).Provisioned() || d.alarm(AlarmSeedRejected) {
		t.Error("the seed did not apply after the fix")
	}
}

// TestApplyRecoversFromPowerCut leaves a journal and half-written files,
// as a power cut in the middle would: the next boot puts everything back
// before it looks at the seed; a good seed then applies whole.
func TestApplyRecoversFromPowerCut(t *testing.T) {
	d := newDevice(t, []byte(testsupport.FullSeed(t)))
	if err := writeFile(d.root, platform.SystemConfigPath, []byte("{\"hostname\": \"before\", \"brand\": \"VCS\", \"type\": \"Expressway-C\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.Begin(d.root, JournalPath, []string{netsettings.ConfigPath, platform.SystemConfigPath}); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(d.root, platform.SystemConfigPath, []byte("{\"hostname\": \"half\", \"brand\": \"VCS\", \"type\": \"Expressway-C\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(d.root, netsettings.ConfigPath, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The boot after the cut finds a seed that does not apply, so what
	// is left afterwards is the rollback's doing alone.
	d.attach(t, []byte("version = 1\ninstance_id = \"site-a-001\"\nbogus = 1\n"))
	out, err := d.boot(t)
	if !errors.Is(err, seedfmt.ErrInvalid) {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "interrupted; put back 2 files") {
		t.Errorf("console:\n%s", out)
	}
	if d.exists(netsettings.ConfigPath) || d.exists(JournalPath) {
		t.Error("the half-written file or the journal is still there")
	}
	if c, err := platform.LoadSystemConfig(d.root); err != nil || c.Hostname != "before" {
		t.Errorf("system.json = %+v, %v", c, err)
	}
	d.attach(t, []byte(testsupport.FullSeed(t)))
	if out, err := d.boot(t); err != nil || !d.state(t).Provisioned() {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestApplyDeviceChecks(t *testing.T) {
	tests := []struct {
		name  string
		seed  string
		setup func(d *device)
		want  string
	}{
		{"default password", "version = 1\ninstance_id = \"a\"\n[users.admin]\npassword = \"TANDBERG\"\n", nil, "users.admin.password: is the default password"},
		{"licensing on a VCS", "version = 1\ninstance_id = \"a\"\n[licensing]\ntoken = \"t\"\n", func(d *device) {
			if err := platform.SaveSystemConfig(d.root, platform.SystemConfig{Hostname: "v", Brand: platform.BrandVCS, Type: platform.TypeC}); err != nil {
				t.Fatal(err)
			}
		}, "licensing: Smart Licensing needs an Expressway"},
		{"expressway kept through reset cannot become VCS", "version = 1\ninstance_id = \"a\"\n[system]\nbrand = \"VCS\"\n", func(d *device) {
			if err := platform.SaveSystemConfig(d.root, platform.SystemConfig{Hostname: "v", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}); err != nil {
				t.Fatal(err)
			}
		}, "system.brand: this device has Smart Licensing on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDevice(t, []byte(tt.seed))
			if tt.setup != nil {
				tt.setup(d)
			}
			out, err := d.boot(t)
			if !errors.Is(err, seedfmt.ErrInvalid) || !strings.Contains(out, tt.want) {
				t.Fatalf("err %v, console:\n%s", err, out)
			}
			if d.exists(platform.PasswdPath) || d.exists(LicensingPath) {
				t.Error("something was applied")
			}
		})
	}
}

func TestXStatusProvisioning(t *testing.T) {
	d := newDevice(t, nil)
	var tree xapi.Tree
	RegisterXAPI(&tree, d.root)
	show := func() string {
		var b bytes.Buffer
		if err := tree.Serve(context.Background(), &xapi.Request{Kind: xapi.Status, Path: []string{"Provisioning"}}, xapi.NewWriter(&b)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	d.attach(t, []byte("version = 1\ninstance_id = \"a\"\nbogus = 1\n"))
	d.boot(t)
	if got := show(); !strings.Contains(got, `*s Provisioning Result: "Rejected"`) || !strings.Contains(got, `*s Provisioning Last Problem 1: "line 3: bogus: unknown key`) {
		t.Errorf("bad seed:\n%s", got)
	}
	d.attach(t, []byte(testsupport.FullSeed(t)))
	d.boot(t)
	got := show()
	for _, w := range []string{`*s Provisioning Status: "Provisioned"`, `*s Provisioning InstanceId: "site-a-001"`, `*s Provisioning Source: "VXPROV disk /dev/vdb"`,
		`*s Provisioning Applied: "2026-11-27T13:00:00Z"`, `*s Provisioning Result: "Applied"`, `*s Provisioning Licensing: "Pending"`, "OK"} {
		if !strings.Contains(got, w) {
			t.Errorf("applied: lacks %s:\n%s", w, got)
		}
	}
	if strings.Contains(got, "tok-abc-123") {
		t.Error("status shows the token")
	}

	fresh := newDevice(t, nil)
	tree = xapi.Tree{}
	RegisterXAPI(&tree, fresh.root)
	fresh.boot(t)
	got = show()
	for _, w := range []string{`*s Provisioning Status: "NotProvisioned"`, `*s Provisioning Closed: "2026-11-27T12:00:00Z"`, `*s Provisioning Result: "NoSeed"`} {
		if !strings.Contains(got, w) {
			t.Errorf("no seed: lacks %s:\n%s", w, got)
		}
	}
}
