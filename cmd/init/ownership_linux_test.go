package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"vxway/agent"
	"vxway/clock"
	"vxway/platform"
)

// TestOwnedPathsMatchTheAgent holds init's copies of the agent's
// directories to the agent's constants (init does not link the agent).
func TestOwnedPathsMatchTheAgent(t *testing.T) {
	if agentStateDir != agent.StateDir || agentAnchorDir != agent.AnchorDir {
		t.Fatalf("init gives %q and %q to the agent; the agent keeps its state in %q and %q",
			agentStateDir, agentAnchorDir, agent.StateDir, agent.AnchorDir)
	}
}

func statOf(t *testing.T, p string) (os.FileMode, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode(), fi.Sys().(*syscall.Stat_t)
}

// TestFixOwnership: files an older image wrote as root are given to the
// agent (its state) and to the shared groups (settings, alarms), the
// owners' files stay theirs, and a second run changes nothing.
func TestFixOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files to other users needs root")
	}
	root := t.TempDir()
	files := map[string]os.FileMode{
		"data/licensing/state.json":     0o600,
		"data/licensing/device.key":     0o600,
		"persist/licensing/anchor.json": 0o600,
		"data/config/system.json":       0o644,
		"data/config/.system.json.lock": 0o600,
		"data/alarms/40003.json":        0o644,
		"persist/optionkeys/ab.json":    0o644,
	}
	for p, m := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("{}\n"), m); err != nil {
			t.Fatal(err)
		}
	}
	// A file the admin shell wrote keeps its owner.
	adminFile := filepath.Join(root, "data/config/network.json")
	if err := os.WriteFile(adminFile, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(adminFile, platform.UIDAdmin, platform.GIDAdmin); err != nil {
		t.Fatal(err)
	}
	if err := fixOwnership(root, dirOwners()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path     string
		uid, gid uint32
		mode     os.FileMode
	}{
		{"data/licensing", platform.UIDAgent, platform.GIDAgent, os.ModeDir | 0o700},
		{"data/licensing/state.json", platform.UIDAgent, platform.GIDAgent, 0o600},
		{"persist/licensing/anchor.json", platform.UIDAgent, platform.GIDAgent, 0o600},
		{"data/config", 0, platform.GIDConfig, os.ModeDir | os.ModeSetgid | 0o775},
		{"data/config/system.json", 0, platform.GIDConfig, 0o664},
		{"data/config/.system.json.lock", 0, platform.GIDConfig, 0o660},
		{"data/config/network.json", platform.UIDAdmin, platform.GIDConfig, 0o664},
		{"data/optionkeys", 0, platform.GIDConfig, os.ModeDir | os.ModeSetgid | 0o775},
		{"persist/optionkeys/ab.json", 0, platform.GIDConfig, 0o664},
		{"data/alarms", 0, platform.GIDAlarms, os.ModeDir | os.ModeSetgid | 0o775},
		{"data/alarms/40003.json", 0, platform.GIDAlarms, 0o664},
		{"run/vxway", 0, platform.GIDAgent, os.ModeDir | os.ModeSticky | 0o775},
	} {
		t.Run(tc.path, func(t *testing.T) {
			mode, st := statOf(t, filepath.Join(root, tc.path))
			if st.Uid != tc.uid || st.Gid != tc.gid || mode != tc.mode {
				t.Errorf("%d:%d %v, want %d:%d %v", st.Uid, st.Gid, mode, tc.uid, tc.gid, tc.mode)
			}
		})
	}
	// A second boot finds everything right and touches nothing.
	ctimes := map[string]syscall.Timespec{}
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error {
		_, st := statOf(t, p)
		ctimes[p] = st.Ctim
		return nil
	})
	time.Sleep(10 * time.Millisecond) // ctime granularity, not a timer
	if err := fixOwnership(root, dirOwners()); err != nil {
		t.Fatal(err)
	}
	for p, c := range ctimes {
		if _, st := statOf(t, p); st.Ctim != c {
			t.Errorf("%s changed on the second run", p)
		}
	}
}

func TestDeviceAccounts(t *testing.T) {
	for _, a := range deviceAccounts() {
		switch a.Name {
		case platform.UserRoot:
			if a.Credential != nil {
				t.Errorf("root's shell runs as %+v, want root", a.Credential)
			}
		case platform.UserAdmin:
			c := a.Credential
			if c == nil || c.Uid != platform.UIDAdmin || c.Gid != platform.GIDAdmin {
				t.Fatalf("admin's shell runs as %+v, want uid and gid %d", c, platform.UIDAdmin)
			}
			for _, g := range []uint32{platform.GIDAgent, platform.GIDConfig, platform.GIDAlarms} {
				if !slices.Contains(c.Groups, g) {
					t.Errorf("admin's shell lacks group %d (groups %v)", g, c.Groups)
				}
			}
		default:
			t.Errorf("unexpected account %q", a.Name)
		}
	}
}

// TestFollowHostname: a host name the admin shell writes to the
// configuration reaches the kernel at init's next look, once.
func TestFollowHostname(t *testing.T) {
	root := t.TempDir()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	sys := &fakeSystem{}
	d := &device{root: root, console: &discard{}, sys: sys, clock: clk}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := platform.SaveSystemConfig(root, platform.SystemConfig{Hostname: "vxtest", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}); err != nil {
		t.Fatal(err)
	}
	d.followHostname(ctx, "vxtest")
	clk.Advance(hostnameEvery)
	if got := sys.list(); len(got) != 0 {
		t.Fatalf("unchanged name set again: %q", got)
	}
	if err := platform.UpdateSystemConfig(root, func(c *platform.SystemConfig) error { c.Hostname = "expe02"; return nil }); err != nil {
		t.Fatal(err)
	}
	clk.Advance(hostnameEvery)
	clk.Advance(hostnameEvery)
	if got, want := sys.list(), []string{"hostname expe02"}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	cancel()
	clk.Advance(hostnameEvery)
	if n := clk.Pending(); n != 0 {
		t.Fatalf("%d timers pending after the end", n)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
