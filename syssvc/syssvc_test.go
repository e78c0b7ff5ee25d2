package syssvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/platform"
	"vxway/sysclient"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		uid  uint32
		ok   bool
	}{
		{"root", 0, true},
		{"admin", platform.UIDAdmin, true},
		{"agent", platform.UIDAgent, false},
		{"nobody", 65534, false},
		{"admin+1", platform.UIDAdmin + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.uid)
			if tc.ok != (err == nil) {
				t.Fatalf("Check(%d) = %v, want allowed %v", tc.uid, err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, sysclient.ErrNotPermitted) {
				t.Errorf("Check(%d) = %v, want ErrNotPermitted", tc.uid, err)
			}
		})
	}
}

// fakeOps records what the server asked for.
type fakeOps struct {
	mu      sync.Mutex
	urls    []string
	block   chan struct{} // when set, Upgrade waits for it
	started chan struct{}
	err     error
	reboots chan struct{}
}

func newFakeOps() *fakeOps { return &fakeOps{reboots: make(chan struct{}, 4)} }

func (f *fakeOps) Upgrade(ctx context.Context, url string, log io.Writer) (sysclient.UpgradeResult, error) {
	f.mu.Lock()
	f.urls = append(f.urls, url)
	f.mu.Unlock()
	if f.started != nil {
		close(f.started)
	}
	if f.block != nil {
		<-f.block
	}
	fmt.Fprintf(log, "upgrade: checked\nupgrade: writing \x1b[2J slot B\n")
	if f.err != nil {
		return sysclient.UpgradeResult{}, f.err
	}
	return sysclient.UpgradeResult{Version: "X14.3.0-vxway", Slot: "B"}, nil
}

func (f *fakeOps) BackupCreate(_ context.Context, password string) (sysclient.BackupMade, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, "backup:"+password)
	return sysclient.BackupMade{Path: "/data/backup/b.vxb", Size: 10, Files: 3}, f.err
}

func (f *fakeOps) BackupRestore(_ context.Context, file, password string) (sysclient.RestoreStaged, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, "restore:"+file)
	return sysclient.RestoreStaged{Archive: file, Serial: "ABCD0123"}, f.err
}

func (f *fakeOps) BackupStatus(context.Context) (sysclient.BackupStatus, error) {
	return sysclient.BackupStatus(`{"files":[]}`), nil
}

func (f *fakeOps) Reboot() error {
	f.reboots <- struct{}{}
	return nil
}

func (f *fakeOps) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.urls...)
}

// start serves ops on a socket in a temporary directory.
func start(t *testing.T, ops Ops, allow func(uint32) error) (*sysclient.Client, string, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "system.sock")
	l, err := Listen(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	srv := &Server{Ops: ops, Log: &log, Allow: allow, Grace: time.Minute}
	go srv.Serve(l)
	t.Cleanup(func() { l.Close() })
	return sysclient.NewClient(path), path, &log.b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func waitReboot(t *testing.T, f *fakeOps) {
	t.Helper()
	select {
	case <-f.reboots:
	case <-time.After(30 * time.Second):
		t.Fatal("no reboot after the client hung up")
	}
}

func noReboot(t *testing.T, f *fakeOps) {
	t.Helper()
	select {
	case <-f.reboots:
		t.Fatal("rebooted")
	default:
	}
}

// TestUpgradeThenReboot: over the real socket, the client gets the
// progress lines and the result, and the device restarts once the client
// has hung up (not after the grace period, which is a minute here).
func TestUpgradeThenReboot(t *testing.T) {
	ops := newFakeOps()
	c, path, _ := start(t, ops, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v, want a socket with 0660", fi.Mode())
	}
	var lines []string
	res, err := c.Upgrade(context.Background(), "http://h/b.vxu", func(s string) { lines = append(lines, s) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != "X14.3.0-vxway" || res.Slot != "B" {
		t.Errorf("result %+v", res)
	}
	if want := []string{"upgrade: checked", "upgrade: writing \x1b[2J slot B"}; fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("progress %q, want %q", lines, want)
	}
	waitReboot(t, ops)
	if got := ops.asked(); len(got) != 1 || got[0] != "http://h/b.vxu" {
		t.Errorf("upgrades asked: %q", got)
	}
}

func TestRefusals(t *testing.T) {
	me := uint32(os.Getuid())
	notMe := func(uid uint32) error {
		if uid == me {
			return fmt.Errorf("%w: user id %d refused", sysclient.ErrNotPermitted, uid)
		}
		return nil
	}
	for _, tc := range []struct {
		name  string
		allow func(uint32) error
		call  func(*sysclient.Client) error
		want  error
	}{
		{"refused uid upgrade", notMe, func(c *sysclient.Client) error {
			_, err := c.Upgrade(context.Background(), "http://h/b.vxu", nil)
			return err
		}, sysclient.ErrNotPermitted},
		{"refused uid reboot", notMe, func(c *sysclient.Client) error { return c.Reboot(context.Background()) }, sysclient.ErrNotPermitted},
		{"refused uid backup", notMe, func(c *sysclient.Client) error {
			_, err := c.BackupCreate(context.Background(), "secret")
			return err
		}, sysclient.ErrNotPermitted},
		{"refused uid restore", notMe, func(c *sysclient.Client) error {
			_, err := c.BackupRestore(context.Background(), "b.vxb", "secret")
			return err
		}, sysclient.ErrNotPermitted},
		{"empty URL", nil, func(c *sysclient.Client) error {
			_, err := c.Upgrade(context.Background(), "", nil)
			return err
		}, sysclient.ErrBadRequest},
		{"long URL", nil, func(c *sysclient.Client) error {
			_, err := c.Upgrade(context.Background(), "http://h/"+strings.Repeat("a", sysclient.MaxURL), nil)
			return err
		}, sysclient.ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := newFakeOps()
			c, _, _ := start(t, ops, tc.allow)
			err := tc.call(c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := ops.asked(); len(got) != 0 {
				t.Errorf("a refused request reached the operations: %q", got)
			}
			noReboot(t, ops)
		})
	}
}

// TestOversizedBody: a body past the bound is refused unread.
func TestOversizedBody(t *testing.T) {
	ops := newFakeOps()
	_, path, _ := start(t, ops, nil)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	body := `{"url":"http://h/` + strings.Repeat("a", sysclient.MaxRequest) + `"}`
	resp, err := hc.Post("http://system"+sysclient.RouteUpgrade, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %s, want 400", resp.Status)
	}
	if got := ops.asked(); len(got) != 0 {
		t.Errorf("an oversized request reached the operations: %q", got)
	}
}

// TestFailedUpgradeDoesNotReboot: the refusal of the bundle reaches the
// client as its reason and the device stays up.
func TestFailedUpgradeDoesNotReboot(t *testing.T) {
	ops := newFakeOps()
	ops.err = errors.New("bundle version is below the minimum version: X14.2.0-vxway is below X14.3.0-vxway")
	c, _, log := start(t, ops, nil)
	_, err := c.Upgrade(context.Background(), "http://admin:pw-secret@h/old.vxu", nil)
	if err == nil || err.Error() != ops.err.Error() {
		t.Fatalf("err = %v, want the upgrade's own reason", err)
	}
	// The log names the URL without the password in it.
	if l := log.String(); strings.Contains(l, "pw-secret") || !strings.Contains(l, "admin:xxxxx@h") {
		t.Errorf("log:\n%s", l)
	}
	// A request after the failure is served, so the server is still
	// there, and nothing rebooted in between.
	if err := c.Reboot(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitReboot(t, ops)
	noReboot(t, ops)
}

// TestOneAtATime: while an upgrade runs, a second upgrade and a reboot are
// refused as busy.
func TestOneAtATime(t *testing.T) {
	ops := newFakeOps()
	ops.block, ops.started = make(chan struct{}), make(chan struct{})
	c, _, _ := start(t, ops, nil)
	done := make(chan error, 1)
	go func() {
		_, err := c.Upgrade(context.Background(), "http://h/1.vxu", nil)
		done <- err
	}()
	select {
	case <-ops.started:
	case err := <-done:
		t.Fatalf("the first upgrade did not start: %v", err)
	}
	if _, err := c.Upgrade(context.Background(), "http://h/2.vxu", nil); !errors.Is(err, sysclient.ErrBusy) {
		t.Errorf("second upgrade: %v, want ErrBusy", err)
	}
	if err := c.Reboot(context.Background()); !errors.Is(err, sysclient.ErrBusy) {
		t.Errorf("reboot during an upgrade: %v, want ErrBusy", err)
	}
	noReboot(t, ops)
	close(ops.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitReboot(t, ops)
	if got := ops.asked(); len(got) != 1 {
		t.Errorf("upgrades run: %q, want the first only", got)
	}
}

// TestBackupNoRestart: a backup and a staged restore answer their result
// and restart nothing (the shell asks for the restart itself); the
// password is not logged.
func TestBackupNoRestart(t *testing.T) {
	ops := newFakeOps()
	c, _, log := start(t, ops, nil)
	m, err := c.BackupCreate(context.Background(), "s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "/data/backup/b.vxb" || m.Files != 3 {
		t.Errorf("made %+v", m)
	}
	st, err := c.BackupRestore(context.Background(), "b.vxb", "s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if st.Archive != "b.vxb" || st.Serial != "ABCD0123" {
		t.Errorf("staged %+v", st)
	}
	noReboot(t, ops)
	if strings.Contains(log.String(), "s3cret") {
		t.Errorf("the password reached the log:\n%s", log.String())
	}
}
