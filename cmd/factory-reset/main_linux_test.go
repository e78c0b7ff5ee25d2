package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vxway/clock"
	"vxway/factoryreset"
	"vxway/platform"
)

// binary is the factory-reset command built for the tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "factory-reset-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "factory-reset")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("building factory-reset: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newRoot makes a device root with persist and a system configuration of
// the given brand.
func newRoot(t *testing.T, brand platform.Brand) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "persist"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := platform.SystemConfig{Hostname: "expe01", Brand: brand, Type: platform.TypeE, SmartLicensingEnabled: brand == platform.BrandExpressway}
	if err := platform.SaveSystemConfig(root, c); err != nil {
		t.Fatal(err)
	}
	return root
}

// runPipe runs the binary with stdin from a pipe holding input.
func runPipe(t *testing.T, input string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(input)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func requestKeep(t *testing.T, root string) ([]string, bool) {
	t.Helper()
	r, ok, err := factoryreset.ReadRequest(root)
	if err != nil {
		t.Fatal(err)
	}
	return r.Keep, ok
}

func TestHelpListsEveryFlag(t *testing.T) {
	out, _, code := runPipe(t, "", "--help")
	if code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	lines := strings.Split(out, "\n")
	want := []string{"--yes", "--dry-run", "--status", "--no-reboot", "--cancel", "--root", "--help"}
	for _, i := range factoryreset.Items() {
		want = append(want, "-"+i.Flag()+", --"+i.LongFlag())
	}
	for _, w := range want {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%q is on %d help lines, want 1:\n%s", w, n, out)
		}
	}
}

// TestFlags runs the command with flags and --yes from a pipe.
func TestFlags(t *testing.T) {
	tests := []struct {
		name     string
		brand    platform.Brand
		args     []string
		wantCode int
		wantKeep []string // nil: no request recorded
		wantOut  string
	}{
		{"keep nothing", platform.BrandExpressway, []string{"--yes"}, 0, []string{}, "keeping nothing"},
		{"-v -t", platform.BrandExpressway, []string{"-v", "-t", "--yes"}, 0, []string{"brand-type", "licensing"}, "recorded"},
		{"combined short flags", platform.BrandExpressway, []string{"-tsc", "-y"}, 0, []string{"licensing", "ssh-keys", "certificates"}, "recorded"},
		{"long flags", platform.BrandExpressway, []string{"--keep-ip", "--keep-logs", "--keep-passwords", "--keep-fips", "--keep-management", "--yes"}, 0, []string{"fips", "ip", "management", "passwords", "logs"}, "recorded"},
		{"-o on Expressway", platform.BrandExpressway, []string{"-o", "--yes"}, 1, nil, "removed from the Expressway factory reset"},
		{"-o on VCS", platform.BrandVCS, []string{"-o", "-p", "--yes"}, 0, []string{"passwords", "option-keys"}, "recorded"},
		{"pipe without --yes, no flags", platform.BrandExpressway, nil, 1, nil, "stdin is not a terminal"},
		{"pipe without --yes, with flags", platform.BrandExpressway, []string{"-v"}, 1, nil, "stdin is not a terminal"},
		{"dry run", platform.BrandExpressway, []string{"-s", "--dry-run"}, 0, nil, "Keep:\n  ssh host keys (-s): data/ssh/"},
		{"argument", platform.BrandExpressway, []string{"now", "--yes"}, 2, nil, "unexpected argument"},
		{"unknown flag", platform.BrandExpressway, []string{"-x"}, 2, nil, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t, tt.brand)
			out, errOut, code := runPipe(t, "yes\n", append([]string{"--root", root}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.wantOut) {
				t.Errorf("output does not say %q:\n%s%s", tt.wantOut, out, errOut)
			}
			keep, ok := requestKeep(t, root)
			if ok != (tt.wantKeep != nil) || !slices.Equal(keep, tt.wantKeep) {
				t.Errorf("request keeps %v (recorded %v), want %v", keep, ok, tt.wantKeep)
			}
			_, raised, err := platform.NewAlarms(root, nil).Get(platform.AlarmFactoryResetStarted)
			if err != nil || raised != (tt.wantKeep != nil) {
				t.Errorf("alarm 15009 raised %v (%v), want %v", raised, err, tt.wantKeep != nil)
			}
		})
	}
}

func TestNotADevice(t *testing.T) {
	root := t.TempDir()
	_, errOut, code := runPipe(t, "", "--root", root, "--yes")
	if code != 1 || !strings.Contains(errOut, "not a vxway device") {
		t.Errorf("exit %d, stderr %q; want a refusal naming the device", code, errOut)
	}
}

// emptyDisk is a Disk over a plain directory: enough to finish a reset
// for the status test.
type emptyDisk struct{ dir string }

func (emptyDisk) UnmountData(context.Context) error { return nil }
func (d emptyDisk) MakeData(context.Context) error {
	if err := os.RemoveAll(d.dir); err != nil {
		return err
	}
	return os.Mkdir(d.dir, 0o755)
}
func (emptyDisk) MountData(context.Context) error { return nil }

func TestStatusAndCancel(t *testing.T) {
	root := newRoot(t, platform.BrandExpressway)
	status := func() string {
		out, errOut, code := runPipe(t, "", "--root", root, "--status")
		if code != 0 {
			t.Fatalf("--status exited %d: %s", code, errOut)
		}
		return out
	}
	if got := status(); got != "factory reset: none\n" {
		t.Errorf("status = %q, want none", got)
	}
	if _, errOut, code := runPipe(t, "", "--root", root, "--cancel"); code != 1 || !strings.Contains(errOut, "no factory reset is pending") {
		t.Errorf("--cancel with nothing pending: exit %d, %q", code, errOut)
	}
	runPipe(t, "", "--root", root, "-t", "--yes")
	if got := status(); !strings.Contains(got, "pending") || !strings.Contains(got, "smart licensing") {
		t.Errorf("status = %q, want pending keeping smart licensing", got)
	}
	if out, errOut, code := runPipe(t, "", "--root", root, "--cancel"); code != 0 || !strings.Contains(out, "withdrawn") {
		t.Errorf("--cancel: exit %d, %q %q", code, out, errOut)
	}
	if _, raised, _ := platform.NewAlarms(root, nil).Get(platform.AlarmFactoryResetStarted); raised {
		t.Error("15009 still raised after --cancel")
	}
	if got := status(); got != "factory reset: none\n" {
		t.Errorf("status after --cancel = %q, want none", got)
	}

	runPipe(t, "", "--root", root, "-t", "--yes")
	// A boot that stopped while staging: in progress.
	if err := os.WriteFile(filepath.Join(root, factoryreset.ProgressPath), []byte(`{"phase":"staging","attempts":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := status(); !strings.Contains(got, "in progress (phase staging: saving the kept items)") {
		t.Errorf("status = %q, want in progress", got)
	}
	if _, errOut, code := runPipe(t, "", "--root", root, "--yes"); code != 1 || !strings.Contains(errOut, "in progress") {
		t.Errorf("a new reset during one in progress: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runPipe(t, "", "--root", root, "--cancel"); code != 1 || !strings.Contains(errOut, "in progress") {
		t.Errorf("--cancel during a reset in progress: exit %d, %q", code, errOut)
	}
	if err := factoryreset.Resume(context.Background(), root, emptyDisk{filepath.Join(root, "data")}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := status(); !strings.HasPrefix(got, "factory reset: last result: done at ") || !strings.Contains(got, "kept smart licensing") {
		t.Errorf("status = %q, want done", got)
	}
}

// terminal runs the binary on a pseudo-terminal, as on the console.
type terminal struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
}

func startTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own with the pty as controlling terminal, so ^C
	// typed on it sends SIGINT as on the console.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	term := &terminal{t: t, cmd: cmd, master: master, done: make(chan struct{})}
	go func() {
		r := bufio.NewReader(master)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				close(term.done)
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		master.Close()
	})
	return term
}

func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// expect waits until the output holds s n times.
func (term *terminal) expect(s string, n int) {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(term.output(), s) < n {
		if time.Now().After(deadline) {
			term.t.Fatalf("waiting for %q (x%d); the terminal shows:\n%s", s, n, term.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := term.master.WriteString(s); err != nil {
		term.t.Fatal(err)
	}
}

// wait returns the exit code and the whole transcript.
func (term *terminal) wait() (int, string) {
	term.t.Helper()
	err := term.cmd.Wait()
	select {
	case <-term.done:
	case <-time.After(5 * time.Second):
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), term.output()
	case err != nil:
		term.t.Fatal(err)
	}
	return 0, term.output()
}

// TestInteractive answers the prompts on a terminal, as on the console.
func TestInteractive(t *testing.T) {
	prompts := factoryreset.ItemsFor(platform.BrandExpressway)
	tests := []struct {
		name     string
		brand    platform.Brand
		args     []string
		answers  []string // one per prompt, then the final answer; "^C" presses Ctrl+C
		wantCode int
		wantKeep []string
	}{
		{"seed example", platform.BrandExpressway, nil,
			[]string{"yes", "no", "no", "yes", "yes", "yes", "yes", "yes", "yes", "yes"}, 0,
			[]string{"brand-type", "ip", "management", "ssh-keys", "certificates", "passwords", "logs"}},
		{"keep only licensing", platform.BrandExpressway, nil,
			[]string{"no", "yes", "no", "no", "no", "no", "no", "no", "no", "yes"}, 0, []string{"licensing"}},
		{"no at the final question", platform.BrandExpressway, nil,
			[]string{"yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "no"}, 1, nil},
		{"ctrl-c at the third prompt", platform.BrandExpressway, nil, []string{"yes", "no", "^C"}, 1, nil},
		{"ctrl-c at the final question", platform.BrandExpressway, nil,
			[]string{"no", "no", "no", "no", "no", "no", "no", "no", "no", "^C"}, 1, nil},
		{"vcs adds the option keys prompt", platform.BrandVCS, nil,
			[]string{"no", "no", "no", "no", "no", "no", "no", "no", "no", "yes", "yes"}, 0, []string{"option-keys"}},
		{"flags still confirm", platform.BrandExpressway, []string{"-v", "-s"}, []string{"yes"}, 0, []string{"brand-type", "ssh-keys"}},
		{"flags, no at the confirmation", platform.BrandExpressway, []string{"-v", "-s"}, []string{"no"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t, tt.brand)
			term := startTerminal(t, append([]string{"--root", root}, tt.args...)...)
			term.expect("To cancel operation before final confirmation press Ctrl+C", 1)
			for k, a := range tt.answers {
				term.expect("[YES/NO]? ", k+1)
				if a == "^C" {
					term.send("\x03")
					continue
				}
				term.send(a + "\r")
			}
			code, out := term.wait()
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; transcript:\n%s", code, tt.wantCode, out)
			}
			keep, ok := requestKeep(t, root)
			if ok != (tt.wantKeep != nil) || !slices.Equal(keep, tt.wantKeep) {
				t.Errorf("request keeps %v (recorded %v), want %v; transcript:\n%s", keep, ok, tt.wantKeep, out)
			}
			if slices.Contains(tt.answers, "^C") && !strings.Contains(out, "^C") {
				t.Errorf("the terminal did not take Ctrl+C:\n%s", out)
			}
			if tt.wantKeep == nil && !strings.Contains(out, "cancelled: nothing was changed") {
				t.Errorf("a cancelled reset does not say so:\n%s", out)
			}
			if len(tt.args) == 0 && tt.wantCode == 0 {
				last := -1
				for _, i := range factoryreset.ItemsFor(tt.brand) {
					k := strings.Index(out, i.Prompt()+" [YES/NO]? ")
					if k < last {
						t.Errorf("%q missing or out of order:\n%s", i.Prompt(), out)
					}
					last = k
				}
				if len(prompts) != 9 {
					t.Errorf("%d Expressway prompts, want 9", len(prompts))
				}
			}
			if k := strings.Index(out, "Are you sure you want to continue [YES/NO]? "); tt.wantCode == 0 && k < 0 {
				t.Errorf("no final confirmation:\n%s", out)
			}
		})
	}
}

type fakeRebooter struct {
	calls int
	err   error
}

func (f *fakeRebooter) Reboot(context.Context) error { f.calls++; return f.err }

// TestReboot checks the reboot step in-process with a fake rebooter: a
// failed reboot withdraws the request and lowers 15009.
func TestReboot(t *testing.T) {
	for _, fail := range []bool{false, true} {
		root := newRoot(t, platform.BrandExpressway)
		rb := &fakeRebooter{}
		if fail {
			rb.err = errors.New("operation not permitted")
		}
		var out, errOut bytes.Buffer
		e := env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, isTerminal: func(io.Reader) bool { return false },
			reboot: rb, clock: clock.NewFake(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)), rebootAnyRoot: true}
		err := newApp(e).RunContext(context.Background(), []string{"factory-reset", "--root", root, "-l", "--yes"})
		if rb.calls != 1 {
			t.Errorf("rebooter called %d times", rb.calls)
		}
		_, recorded := requestKeep(t, root)
		_, raised, _ := platform.NewAlarms(root, nil).Get(platform.AlarmFactoryResetStarted)
		if fail {
			if err == nil || !strings.Contains(err.Error(), "withdrawn and nothing was changed") {
				t.Errorf("failed reboot: %v", err)
			}
			if recorded || raised {
				t.Errorf("failed reboot left the request (%v) or 15009 (%v)", recorded, raised)
			}
			continue
		}
		if err != nil || !recorded || !raised || !strings.Contains(out.String(), "Rebooting") {
			t.Errorf("reboot: %v, recorded %v, 15009 %v, output %q", err, recorded, raised, out.String())
		}
	}
}

// TestPersistTooSmall refuses a plan whose kept items do not fit on
// persist, before anything is recorded.
func TestPersistTooSmall(t *testing.T) {
	root := newRoot(t, platform.BrandExpressway)
	if err := os.MkdirAll(filepath.Join(root, "data/log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data/log/init.log"), bytes.Repeat([]byte("x"), 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		ok   bool
	}{{[]string{"-l", "--yes"}, false}, {[]string{"-s", "--yes"}, true}} {
		var out, errOut bytes.Buffer
		e := env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, isTerminal: func(io.Reader) bool { return false },
			freeSpace: func(string) (int64, error) { return 2 << 20, nil }, reboot: &fakeRebooter{}, clock: clock.Real{}}
		err := newApp(e).RunContext(context.Background(), append([]string{"factory-reset", "--root", root}, tt.args...))
		_, recorded := requestKeep(t, root)
		if tt.ok {
			if err != nil || !recorded {
				t.Errorf("%v: %v, recorded %v", tt.args, err, recorded)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "needs 3.5 MiB on persist, which has 2.0 MiB free") || recorded {
			t.Errorf("%v: %v, recorded %v; want a refusal with the sizes", tt.args, err, recorded)
		}
	}
}

func TestIsMountPoint(t *testing.T) {
	dir := t.TempDir()
	if ok, err := isMountPoint(dir); err != nil || ok {
		t.Errorf("isMountPoint(%s) = %v, %v; want false (a plain directory)", dir, ok, err)
	}
	if ok, err := isMountPoint("/proc"); err != nil || !ok {
		t.Errorf("isMountPoint(/proc) = %v, %v; want true", ok, err)
	}
}
