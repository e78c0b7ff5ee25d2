package vmtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// resetPassword is the root password the factory reset tests set, so that
// keeping or dropping passwords shows at the next login.
const resetPassword = "Vx-Reset-4711"

// markers are files the tests drop into places a kept item covers; each
// holds its own name so one cat shows which are there.
var resetMarkers = map[string]string{
	"licensing":  "/data/licensing/vmtest-marker",
	"fips":       "/data/config/fips.json",
	"management": "/data/config/management.json",
	"logs":       "/data/log/vmtest.log",
}

// deviceState is what the factory reset tests compare across a reset.
type deviceState struct {
	hostKey, cert, system, network, identity, status string
	markers                                          map[string]bool
	rootPassword                                     string
}

// prepareReset changes everything a reset can keep or wipe: markers, a DNS
// domain (IP configuration), the type (Service Select), the root password.
func prepareReset(t *testing.T, v *VM) {
	t.Helper()
	for name, p := range resetMarkers {
		content := "MARK-" + name
		if name == "fips" || name == "management" {
			content = `{"vmtest":"MARK-` + name + `"}`
		}
		v.Run(t, fmt.Sprintf("mkdir -p %s && echo '%s' > %s", p[:strings.LastIndex(p, "/")], content, p))
	}
	v.Run(t, "xconfiguration DNS Domain Name: vmtest.example")
	v.Run(t, "xconfiguration SystemUnit ServiceSelect Type: Expressway-E")
	v.Run(t, fmt.Sprintf("printf '%s\\n%s\\n' | passwd root", resetPassword, resetPassword))
	v.Run(t, "sync")
}

// readState reads the device's state in the root shell.
func readState(t *testing.T, v *VM, password string) deviceState {
	t.Helper()
	s := deviceState{markers: map[string]bool{}, rootPassword: password}
	s.hostKey = v.Run(t, "cat /data/ssh/ssh_host_ed25519_key.pub")
	s.cert = v.Run(t, "md5sum /data/certs/server.crt")
	s.system = v.Run(t, "cat /data/config/system.json")
	s.network, _ = v.RunExit(t, "cat /data/config/network.json")
	s.identity = v.Run(t, "cat /persist/identity.json")
	s.status = v.Run(t, "factory-reset --status")
	var paths []string
	for _, p := range resetMarkers {
		paths = append(paths, p)
	}
	out, _ := v.RunExit(t, "cat "+strings.Join(paths, " "))
	for name := range resetMarkers {
		s.markers[name] = strings.Contains(out, "MARK-"+name)
	}
	return s
}

// resetAndLogin runs factory-reset with args in the root shell, waits for
// the device to come back and logs in with the password the reset leaves.
func resetAndLogin(t *testing.T, v *VM, args, password string) {
	t.Helper()
	v.Send(t, "factory-reset "+args+"\r")
	v.WaitFor(t, "Rebooting to carry it out", CommandTimeout)
	v.WaitFor(t, "factory-reset: done", BootTimeout)
	v.WaitReady(t)
	v.Login(t, "root", password)
}

// TestFactoryReset runs three resets on one VM, keeping everything, only
// Smart Licensing, and nothing, and checks after each which items came
// through: ssh host key, certificate, passwords, IP configuration, logs,
// brand and type, licensing state; persist (identity) always survives.
func TestFactoryReset(t *testing.T) {
	img := Image(t)
	v := Boot(t, img)
	v.WaitReady(t)
	v.Login(t, "root", DefaultRootPassword)
	if out := v.Run(t, "factory-reset --help"); !strings.Contains(out, "--keep-licensing") {
		t.Fatalf("factory-reset --help:\n%s", out)
	}
	if out, code := v.RunExit(t, "factory-reset -o --yes"); code == 0 || !strings.Contains(out, "removed from the Expressway factory reset") {
		t.Errorf("-o on Expressway: exit %d:\n%s", code, out)
	}
	if out, code := v.RunExit(t, "factory-reset < /dev/null"); code == 0 || !strings.Contains(out, "not a terminal") {
		t.Errorf("no terminal, no --yes: exit %d:\n%s", code, out)
	}
	prepareReset(t, v)
	before := readState(t, v, resetPassword)
	if !strings.Contains(before.system, "Expressway-E") || !strings.Contains(before.network, "vmtest.example") {
		t.Fatalf("preparation did not take: system %s, network %s", before.system, before.network)
	}

	// Keep everything.
	resetAndLogin(t, v, "-vtfimscpl --yes", resetPassword)
	got := readState(t, v, resetPassword)
	if got.hostKey != before.hostKey || got.cert != before.cert {
		t.Errorf("keep everything: host key or certificate changed")
	}
	if !strings.Contains(got.system, `"Expressway"`) || !strings.Contains(got.system, "Expressway-E") {
		t.Errorf("keep everything: system config %s, want Expressway, Expressway-E", got.system)
	}
	if !strings.Contains(got.network, "vmtest.example") {
		t.Errorf("keep everything: IP configuration lost: %s", got.network)
	}
	for name, on := range got.markers {
		if !on {
			t.Errorf("keep everything: %s lost", name)
		}
	}
	if got.identity != before.identity {
		t.Errorf("identity changed: %s -> %s", before.identity, got.identity)
	}
	if !strings.Contains(got.status, "last result: done") {
		t.Errorf("status after the reset: %s", got.status)
	}

	// Keep only Smart Licensing.
	resetAndLogin(t, v, "-t --yes", DefaultRootPassword)
	got = readState(t, v, DefaultRootPassword)
	if got.hostKey == before.hostKey || got.cert == before.cert {
		t.Errorf("keep -t: host key or certificate survived")
	}
	if !strings.Contains(got.system, `"VCS"`) || !strings.Contains(got.system, "Expressway-C") {
		t.Errorf("keep -t: system config %s, want VCS, Expressway-C", got.system)
	}
	if strings.Contains(got.network, "vmtest.example") {
		t.Errorf("keep -t: IP configuration survived: %s", got.network)
	}
	for name, on := range got.markers {
		want := name == "licensing"
		if on != want {
			t.Errorf("keep -t: %s present %v, want %v", name, on, want)
		}
	}
	if got.identity != before.identity {
		t.Errorf("identity changed: %s -> %s", before.identity, got.identity)
	}

	// Keep nothing.
	resetAndLogin(t, v, "--yes", DefaultRootPassword)
	got = readState(t, v, DefaultRootPassword)
	for name, on := range got.markers {
		if on {
			t.Errorf("keep nothing: %s survived", name)
		}
	}
	if !strings.Contains(got.system, `"VCS"`) {
		t.Errorf("keep nothing: system config %s, want VCS", got.system)
	}
	if !strings.Contains(got.status, "kept nothing") {
		t.Errorf("status after keeping nothing: %s", got.status)
	}
}

// cutMarkers are console lines of the reset phase after which the power is
// cut (plus a random delay): the start, the staging done, the mke2fs, and
// the restore.
var cutMarkers = []string{
	"factory-reset: keeping",
	"factory-reset: recreating the data filesystem",
	"making a new data filesystem",
	"factory-reset: restored",
}

// TestFactoryResetPowerCut asks for a reset keeping ssh keys, logs and
// licensing, and kills QEMU at a random moment of the reset phase of the
// next boot; the boot after must finish the reset with the kept items
// intact. VXWAY_POWERCUT_TRIALS sets the number of trials (3 by default;
// make test-powercut runs 20).
func TestFactoryResetPowerCut(t *testing.T) {
	trials := 3
	if s := os.Getenv("VXWAY_POWERCUT_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VXWAY_POWERCUT_TRIALS=%q: want a positive number", s)
		}
		trials = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	img := Image(t)
	v := Boot(t, img)
	v.WaitReady(t)
	v.Login(t, "root", DefaultRootPassword)
	for trial := 1; trial <= trials; trial++ {
		prepareReset(t, v)
		before := readState(t, v, resetPassword)
		v.Send(t, "factory-reset -s -l -t --yes\r")
		v.WaitFor(t, "Rebooting to carry it out", CommandTimeout)
		marker := cutMarkers[rng.IntN(len(cutMarkers))]
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		v.WaitFor(t, marker, BootTimeout)
		time.Sleep(delay)
		v.Kill(t)
		t.Logf("trial %d: power cut %s after %q", trial, delay, marker)

		v.Start(t)
		before2, _, err := v.Expect(regexp.MustCompile(`vxway: ready in \d+ms`), BootTimeout)
		if err != nil {
			t.Fatalf("trial %d: no ready after the power cut: %v", trial, err)
		}
		if strings.Contains(before2, "factory reset failed") {
			t.Errorf("trial %d: the resumed reset failed:\n%s", trial, before2)
		}
		v.Login(t, "root", DefaultRootPassword)
		got := readState(t, v, DefaultRootPassword)
		if !strings.Contains(got.status, "last result: done") {
			t.Errorf("trial %d: status after the resumed reset: %s", trial, got.status)
		}
		if got.hostKey != before.hostKey {
			t.Errorf("trial %d: ssh host key lost", trial)
		}
		if got.cert == before.cert {
			t.Errorf("trial %d: certificate survived a reset that does not keep it", trial)
		}
		for name, on := range got.markers {
			want := name == "licensing" || name == "logs"
			if on != want {
				t.Errorf("trial %d: %s present %v, want %v", trial, name, on, want)
			}
		}
		if got.identity != before.identity {
			t.Errorf("trial %d: identity changed", trial)
		}
		if t.Failed() {
			return
		}
	}
}
