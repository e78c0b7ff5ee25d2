package vmtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// resetPassword is the root password the factory reset tests set, so that
// keeping or dropping passwords shows at the next login. Root logs in over
// SSH only with it: the device refuses root's default password over SSH.
const resetPassword = "Vx-Reset-4711"

// resetMarkers are files the tests drop into places a kept item covers; each
// holds its own name so one cat shows which are there. FIPS 140 mode and
// the management interface's address are set for real (xconfiguration)
// and seen in their files.
var resetMarkers = map[string]string{
	"licensing":  "/data/licensing/vmtest-marker",
	"fips":       "/data/config/fips.json",
	"management": "/data/config/management.json",
	"logs":       "/data/log/vmtest.log",
}

// deviceState is what the factory reset tests compare across a reset.
type deviceState struct {
	hostKey, cert, system, network, identity, status, transport string
	markers                                                     map[string]bool
	rootPassword                                                string // the one that logs in
}

// sshRoot runs cmd as root over SSH (gosh -c) and returns its output, the
// SSH host key fingerprint the device showed and the exit code.
func sshRoot(t testing.TB, v *VM, password, cmd string) (out, hostKey string, code int, err error) {
	t.Helper()
	cfg := &ssh.ClientConfig{
		User: "root",
		Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			hostKey = ssh.FingerprintSHA256(k)
			return nil
		},
		Timeout: 30 * time.Second,
	}
	addr := fmt.Sprintf("127.0.0.1:%d", v.SSHPort)
	var c *ssh.Client
	for try := 0; ; try++ {
		c, err = ssh.Dial("tcp", addr, cfg)
		if err == nil || try == 5 || strings.Contains(err.Error(), "unable to authenticate") {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if err != nil {
		return "", hostKey, -1, err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", hostKey, -1, err
	}
	defer s.Close()
	b, err := s.CombinedOutput(cmd)
	var ee *ssh.ExitError
	switch {
	case errors.As(err, &ee):
		return string(b), hostKey, ee.ExitStatus(), nil
	case err != nil:
		return string(b), hostKey, -1, err
	}
	return string(b), hostKey, 0, nil
}

// mustSSH runs cmd as root over SSH; the test fails when it does not exit 0.
func mustSSH(t *testing.T, v *VM, password, cmd string) string {
	t.Helper()
	out, _, code, err := sshRoot(t, v, password, cmd)
	if err != nil || code != 0 {
		t.Fatalf("ssh %q: exit %d, %v:\n%s", cmd, code, err, out)
	}
	return out
}

// prepareReset changes everything a reset can keep or wipe: markers, a DNS
// domain (IP configuration), brand Expressway and type Expressway-E
// (Service Select), the Smart Licensing transport. Root has resetPassword
// (readState or unlockRoot set it).
func prepareReset(t *testing.T, v *VM) {
	t.Helper()
	var script []string
	for name, p := range resetMarkers {
		if name == "fips" || name == "management" {
			continue // real settings, below
		}
		content := "MARK-" + name
		script = append(script, fmt.Sprintf("mkdir -p %s && echo '%s' > %s", p[:strings.LastIndex(p, "/")], content, p))
	}
	script = append(script,
		"xconfiguration SystemUnit FIPS140 Mode: On",
		// An address without the interface: the servers stay on eth0.
		"xconfiguration Interfaces Management Address: 10.0.3.15/24",
		"xconfiguration DNS Domain Name: vmtest.example",
		"xconfiguration SystemUnit ServiceSelect Brand: Expressway",
		"xconfiguration SystemUnit ServiceSelect Type: Expressway-E",
		"xconfiguration License Smart Transport Mode: OnPrem",
		"sync")
	mustSSH(t, v, resetPassword, strings.Join(script, " && "))
}

// unlockRoot gives root, which has the default password, resetPassword on
// the console, so that it can log in over SSH.
func unlockRoot(t testing.TB, v *VM) {
	t.Helper()
	v.SetRootPassword(t, DefaultRootPassword, resetPassword)
}

// readState reads the device's state over SSH as root, finding which root
// password the device has: when SSH refuses resetPassword, root must have
// the default, which logs in only on the console; there it is set to
// resetPassword for SSH, and rootPassword records the default.
func readState(t *testing.T, v *VM) deviceState {
	t.Helper()
	s := deviceState{markers: map[string]bool{}}
	// One cat per file: cat stops at the first missing one.
	var cats []string
	for _, p := range resetMarkers {
		cats = append(cats, "cat "+p)
	}
	cmd := strings.Join([]string{
		"md5sum /data/certs/server.crt",
		"cat /data/config/system.json",
		"cat /data/config/network.json",
		"cat /persist/identity.json",
		"factory-reset --status",
		"xconfiguration License Smart Transport",
		strings.Join(cats, "; "),
	}, "; echo '----'; ")
	s.rootPassword = resetPassword
	out, hostKey, _, err := sshRoot(t, v, resetPassword, cmd) // cat of missing markers exits non-zero
	if err != nil && strings.Contains(err.Error(), "unable to authenticate") {
		unlockRoot(t, v)
		s.rootPassword = DefaultRootPassword
		out, hostKey, _, err = sshRoot(t, v, resetPassword, cmd)
	}
	if err != nil {
		t.Fatalf("ssh as root: %v", err)
	}
	s.hostKey = hostKey
	parts := strings.Split(out, "----\n")
	if len(parts) != 7 {
		t.Fatalf("reading the state: %d parts:\n%s", len(parts), out)
	}
	s.cert, s.system, s.network, s.identity, s.status, s.transport = parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
	for name := range resetMarkers {
		s.markers[name] = strings.Contains(parts[6], "MARK-"+name)
	}
	// FIPS 140 mode and the management interface are set with
	// xconfiguration: their files say so.
	s.markers["fips"] = strings.Contains(parts[6], `"mode": true`)
	s.markers["management"] = strings.Contains(parts[6], `"address": "10.0.3.15/24"`)
	return s
}

// startReset runs factory-reset with args as root over SSH (no terminal:
// args carry --yes) and waits until it has asked init to reboot. The SSH
// session ends with the reboot.
func startReset(t testing.TB, v *VM, password, args string) {
	t.Helper()
	out, _, code, err := sshRoot(t, v, password, "factory-reset "+args)
	if !strings.Contains(out, "Rebooting to carry it out") {
		t.Fatalf("factory-reset %s: exit %d, %v:\n%s", args, code, err, out)
	}
}

// resetAndWait runs factory-reset with args and waits until the device is
// ready again after the reset.
func resetAndWait(t *testing.T, v *VM, password, args string) {
	t.Helper()
	startReset(t, v, password, args)
	v.WaitFor(t, "factory-reset: done", BootTimeout)
	v.WaitReady(t)
}

// TestFactoryReset runs four resets on one VM, keeping everything, only
// Smart Licensing, only brand and type, and nothing, and checks after each
// which items came through: SSH host key (its fingerprint), certificate,
// root password, IP configuration, logs, brand and type, licensing state
// and transport; persist (identity) always survives.
func TestFactoryReset(t *testing.T) {
	img := Image(t)
	v := Boot(t, img)
	v.WaitReady(t)
	unlockRoot(t, v)
	if out := mustSSH(t, v, resetPassword, "factory-reset --help"); !strings.Contains(out, "--keep-licensing") {
		t.Fatalf("factory-reset --help:\n%s", out)
	}
	if out, _, code, err := sshRoot(t, v, resetPassword, "factory-reset -o --yes"); err != nil || code == 0 || !strings.Contains(out, "removed from the Expressway factory reset") {
		t.Errorf("-o on Expressway: exit %d, %v:\n%s", code, err, out)
	}
	if out, _, code, err := sshRoot(t, v, resetPassword, "factory-reset -v"); err != nil || code == 0 || !strings.Contains(out, "not a terminal") {
		t.Errorf("no terminal, no --yes: exit %d, %v:\n%s", code, err, out)
	}
	prepareReset(t, v)
	before := readState(t, v)
	if before.rootPassword != resetPassword || !strings.Contains(before.system, "Expressway-E") || !strings.Contains(before.network, "vmtest.example") || !strings.Contains(before.transport, "OnPrem") {
		t.Fatalf("preparation did not take: password %q, system %s, network %s, transport %s", before.rootPassword, before.system, before.network, before.transport)
	}

	// Keep everything.
	resetAndWait(t, v, resetPassword, "-vtfimscpl --yes")
	got := readState(t, v)
	if got.hostKey != before.hostKey || got.cert != before.cert {
		t.Errorf("keep everything: host key %s -> %s, certificate %s -> %s", before.hostKey, got.hostKey, before.cert, got.cert)
	}
	if got.rootPassword != resetPassword {
		t.Errorf("keep everything: the root password went back to the default")
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
	if !strings.Contains(got.transport, "OnPrem") {
		t.Errorf("keep everything: Smart Licensing transport %s, want OnPrem", got.transport)
	}

	// Keep only Smart Licensing.
	resetAndWait(t, v, resetPassword, "-t --yes")
	got = readState(t, v)
	if got.hostKey == before.hostKey || got.cert == before.cert {
		t.Errorf("keep -t: host key or certificate survived")
	}
	if got.rootPassword != DefaultRootPassword {
		t.Errorf("keep -t: the root password survived")
	}
	if !strings.Contains(got.system, `"VCS"`) || !strings.Contains(got.system, "Expressway-C") {
		t.Errorf("keep -t: system config %s, want VCS, Expressway-C", got.system)
	}
	if strings.Contains(got.network, "vmtest.example") {
		t.Errorf("keep -t: IP configuration survived: %s", got.network)
	}
	for name, on := range got.markers {
		if want := name == "licensing"; on != want {
			t.Errorf("keep -t: %s present %v, want %v", name, on, want)
		}
	}
	if got.identity != before.identity {
		t.Errorf("identity changed: %s -> %s", before.identity, got.identity)
	}

	// Keep only brand and type: still an Expressway, so Smart Licensing
	// goes back to the Direct transport.
	prepareReset(t, v)
	if got = readState(t, v); !strings.Contains(got.transport, "OnPrem") {
		t.Fatalf("transport not set to OnPrem: %s", got.transport)
	}
	resetAndWait(t, v, resetPassword, "-v --yes")
	got = readState(t, v)
	if !strings.Contains(got.system, `"Expressway"`) || !strings.Contains(got.system, "Expressway-E") {
		t.Errorf("keep -v: system config %s, want Expressway, Expressway-E", got.system)
	}
	if !strings.Contains(got.transport, "Direct") {
		t.Errorf("keep -v: Smart Licensing transport %s, want Direct", got.transport)
	}
	for name, on := range got.markers {
		if on {
			t.Errorf("keep -v: %s survived", name)
		}
	}

	// Keep nothing.
	prepareReset(t, v)
	resetAndWait(t, v, resetPassword, "--yes")
	got = readState(t, v)
	for name, on := range got.markers {
		if on {
			t.Errorf("keep nothing: %s survived", name)
		}
	}
	if got.rootPassword != DefaultRootPassword || !strings.Contains(got.system, `"VCS"`) || strings.Contains(got.network, "vmtest.example") {
		t.Errorf("keep nothing: password %q, system %s, network %s", got.rootPassword, got.system, got.network)
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
	unlockRoot(t, v)
	for trial := 1; trial <= trials; trial++ {
		prepareReset(t, v)
		before := readState(t, v)
		startReset(t, v, resetPassword, "-s -l -t --yes")
		marker := cutMarkers[rng.IntN(len(cutMarkers))]
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		v.WaitFor(t, marker, BootTimeout)
		time.Sleep(delay)
		v.Kill(t)
		t.Logf("trial %d: power cut %s after %q", trial, delay, marker)

		v.Start(t)
		boot, _, err := v.Expect(readyRE, BootTimeout)
		if err != nil {
			t.Fatalf("trial %d: no ready after the power cut: %v", trial, err)
		}
		if strings.Contains(boot, "factory reset failed") {
			t.Errorf("trial %d: the resumed reset failed:\n%s", trial, boot)
		}
		resumed := regexp.MustCompile(`factory-reset: keeping .*\(attempt [2-9]`).FindString(boot)
		t.Logf("trial %d: the next boot resumed the reset: %v", trial, resumed != "")
		got := readState(t, v)
		if !strings.Contains(got.status, "last result: done") {
			t.Errorf("trial %d: status after the resumed reset: %s", trial, got.status)
		}
		if got.hostKey != before.hostKey {
			t.Errorf("trial %d: ssh host key lost: %s -> %s", trial, before.hostKey, got.hostKey)
		}
		if got.cert == before.cert || got.rootPassword != DefaultRootPassword {
			t.Errorf("trial %d: certificate or password survived a reset that does not keep them", trial)
		}
		for name, on := range got.markers {
			if want := name == "licensing" || name == "logs"; on != want {
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

// BenchmarkFactoryReset compares a plain reboot with a factory reset
// keeping ssh keys and logs: the time from the command to "vxway: ready"
// for each (firmware and shutdown included), and the init's own ready time
// after each. The target: the reset adds at most 3 s to the plain boot.
//
//	go test ./ci/vmtest -run '^$' -bench FactoryReset -benchtime 1x
func BenchmarkFactoryReset(b *testing.B) {
	img := Image(b)
	v := Boot(b, img)
	v.WaitReady(b)
	unlockRoot(b, v)
	var reboot, reset, rebootInit, resetInit time.Duration
	n := 0
	for b.Loop() {
		n++
		start := time.Now()
		sshRoot(b, v, resetPassword, "reboot") // the session ends with the reboot
		initReady, _ := v.WaitReady(b)
		reboot += time.Since(start)
		rebootInit += initReady

		start = time.Now()
		startReset(b, v, resetPassword, "-s -l --yes")
		v.WaitFor(b, "factory-reset: done", BootTimeout)
		initReady, _ = v.WaitReady(b)
		reset += time.Since(start)
		resetInit += initReady
		b.StopTimer()
		unlockRoot(b, v) // the reset gave root its default password back
		b.StartTimer()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(n) }
	b.ReportMetric(per(reboot), "reboot-s")
	b.ReportMetric(per(reset), "reset-s")
	b.ReportMetric(per(reset-reboot), "reset-overhead-s")
	b.ReportMetric(per(rebootInit), "reboot-init-ready-s")
	b.ReportMetric(per(resetInit), "reset-init-ready-s")
}
