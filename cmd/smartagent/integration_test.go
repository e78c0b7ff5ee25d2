package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vxway/agent"
	"vxway/licproto"
	"vxway/platform"
	"vxway/ssm"
	"vxway/testsupport"
	"vxway/xapi"
)

// Integration tests: the real ssm and smartagent binaries on loopback,
// driven through the device's admin CLI (the xcli binary).

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds smartagent and ssm once per test run.
func binaries(t *testing.T) (agentBin, ssmBin string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "smartagent-it-")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{{"smartagent", "."}, {"ssm", "vxway/cmd/ssm"}, {"xcli", "vxway/cmd/xcli"}} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "smartagent"), filepath.Join(binDir, "ssm")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// manager is a real ssm: its data directory and, while up, its server.
type manager struct {
	t    *testing.T
	bin  string
	data string
	port int
	mode string
	srv  *exec.Cmd
	logs *testsupport.SyncBuffer
}

func newManager(t *testing.T, mode string) *manager {
	_, bin := binaries(t)
	m := &manager{t: t, bin: bin, data: filepath.Join(t.TempDir(), "ssm"), port: freePort(t), mode: mode, logs: &testsupport.SyncBuffer{}}
	m.ok("init", "--san", "localhost,127.0.0.1")
	m.ok("account", "create", "Acme")
	m.ok("va", "create", "--account", "Acme", "Sales")
	m.ok("va", "create", "--account", "Acme", "Support")
	m.ok("license", "add", "--va", "Sales", "--type", "rms", "--count", "5")
	m.ok("license", "add", "--va", "Support", "--type", "rms", "--count", "5")
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *manager) ok(args ...string) string {
	m.t.Helper()
	out, err := exec.Command(m.bin, append([]string{"--data", m.data}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (m *manager) token(args ...string) string {
	m.t.Helper()
	out := strings.TrimSpace(m.ok(append([]string{"token", "create"}, args...)...))
	return out[strings.LastIndex(out, "\n")+1:]
}

func (m *manager) start() {
	m.t.Helper()
	srv := exec.Command(m.bin, "--data", m.data, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", m.port), "--mode", m.mode)
	out, err := srv.StdoutPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	srv.Stderr = m.logs
	if err := srv.Start(); err != nil {
		m.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "endpoint") {
		srv.Process.Kill()
		srv.Wait()
		m.t.Fatalf("ssm serve printed %q (%v):\n%s", line, err, m.logs.String())
	}
	go io.Copy(io.Discard, out)
	m.srv = srv
}

func (m *manager) stop() {
	if m.srv == nil {
		return
	}
	m.srv.Process.Signal(os.Interrupt)
	m.srv.Wait()
	m.srv = nil
}

func (m *manager) url() string {
	if m.mode == "cloud" {
		return fmt.Sprintf("https://127.0.0.1:%d%s", m.port, licproto.DirectPath)
	}
	return fmt.Sprintf("https://127.0.0.1:%d/SmartTransport", m.port)
}

// device is a device root with a running smartagent.
type device struct {
	t    *testing.T
	root string
	cmd  *exec.Cmd
	// exited is closed once the agent has exited and cmd.Wait returned.
	exited chan struct{}
	logs   *testsupport.SyncBuffer
	// args are added to the agent's command line.
	args []string
}

// newDevice lays out a device root whose image trusts caFile and points
// Direct at directURL, and starts the agent on it.
func newDevice(t *testing.T, caFile, directURL string, args ...string) *device {
	t.Helper()
	root := testsupport.DeviceRoot(t, &platform.ImageInfo{SoftwareVersion: "X14.2", Licensing: platform.ImageLicensing{DirectURL: directURL}})
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(root, "etc/vxway/trust/manager.pem"), ca)
	mustWrite(t, filepath.Join(root, "data/config/system.json"), []byte(`{"hostname":"vxtest","domain":"example.com","brand":"Expressway","type":"Expressway-C","smart_licensing_enabled":true}`))
	d := &device{t: t, root: root, logs: &testsupport.SyncBuffer{}, args: args}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (d *device) start() {
	d.t.Helper()
	bin, _ := binaries(d.t)
	cmd := exec.Command(bin, append([]string{"--root", d.root, "--timeout", "3s", "--retry-every", "1s"}, d.args...)...)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		said := false
		for sc.Scan() {
			d.logs.Write([]byte(sc.Text() + "\n"))
			if !said && strings.Contains(sc.Text(), "serving the local API") {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(exited) }()
	if !<-ready {
		d.t.Fatalf("smartagent did not start:\n%s", d.logs.String())
	}
	d.cmd, d.exited = cmd, exited
}

func (d *device) stop() {
	if d.cmd == nil {
		return
	}
	// Only the goroutine that called Wait may read the process state; the
	// closed channel says Wait has returned.
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(2 * time.Second):
	}
	d.cmd = nil
}

// run runs one line with the device's admin CLI (the xcli binary, as
// xcommand / xconfiguration / xstatus) and reports its output and whether
// it ended in OK.
func (d *device) run(line string) (string, bool) {
	d.t.Helper()
	words, err := xapi.SplitLine(line)
	if err != nil {
		d.t.Fatalf("%s: %v", line, err)
	}
	binaries(d.t)
	cmd := exec.Command(filepath.Join(binDir, "xcli"), words...)
	cmd.Env = append(os.Environ(), "VXWAY_ROOT="+d.root)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	ok := err == nil && strings.HasSuffix(out.String(), "OK\n")
	if err == nil && !ok {
		d.t.Fatalf("%s: exit 0 without OK:\n%s", line, out.String())
	}
	return out.String(), ok
}

func (d *device) ok(line string) string {
	d.t.Helper()
	out, ok := d.run(line)
	if !ok {
		d.t.Fatalf("%s:\n%s\nagent log:\n%s", line, out, d.logs.String())
	}
	return out
}

// fails runs line expecting ERROR with a reason holding want.
func (d *device) fails(line, want string) string {
	d.t.Helper()
	out, ok := d.run(line)
	if ok || !strings.Contains(out, want) {
		d.t.Fatalf("%s: want ERROR saying %q, got:\n%s", line, want, out)
	}
	return out
}

// status reads one xstatus leaf.
func (d *device) status(leaf string) string {
	d.t.Helper()
	out := d.ok("xstatus License Smart " + leaf)
	m := regexp.MustCompile(`(?m)^\*s License Smart ` + regexp.QuoteMeta(leaf) + `: "?(.*?)"?$`).FindStringSubmatch(out)
	if m == nil {
		d.t.Fatalf("xstatus License Smart %s:\n%s", leaf, out)
	}
	return m[1]
}

func (d *device) alarm(id int) bool {
	_, err := os.Stat(filepath.Join(d.root, "data/alarms", fmt.Sprint(id)+".json"))
	return err == nil
}

// expiredToken makes a token whose validity ended yesterday, through the
// manager's store (the CLI only makes tokens valid from now).
func (m *manager) expiredToken(va string) string {
	m.t.Helper()
	ctx := context.Background()
	s, err := ssm.OpenStore(ctx, ssm.DBPath(m.data, ""))
	if err != nil {
		m.t.Fatal(err)
	}
	defer s.Close()
	tok, _, err := s.CreateToken(ctx, va, ssm.TokenOptions{ExpiresDays: 1, ExportControlled: true}, time.Now().Add(-48*time.Hour))
	if err != nil {
		m.t.Fatal(err)
	}
	return tok
}

func TestOnPremLifecycle(t *testing.T) {
	m := newManager(t, "onprem")
	d := newDevice(t, filepath.Join(m.data, "ca.crt"), "https://127.0.0.1:1/unused")
	tokSales := m.token("--va", "Sales", "--uses", "1", "--export-control")
	tokSupport := m.token("--va", "Support", "--no-export-control")
	tokRevoked := m.token("--va", "Sales")
	m.ok("token", "revoke", "--", tokRevoked) // a token may start with "-"
	tokExpired := m.expiredToken("Sales")

	if got := d.status("Registration Status"); got != "Unregistered" {
		t.Errorf("fresh device: %q", got)
	}
	if got := d.status("Authorization Status"); got != "Evaluation Mode" {
		t.Errorf("fresh Expressway: authorization %q, want Evaluation Mode", got)
	}
	if !d.alarm(agent.AlarmEvaluation) {
		t.Error("evaluation alarm 30035 not raised")
	}
	d.ok("xconfiguration License Smart Transport Mode: OnPrem")
	d.fails(`xconfiguration License Smart Transport URL: "https://127.0.0.1/other"`, "/SmartTransport")
	d.ok(fmt.Sprintf(`xconfiguration License Smart Transport URL: %q`, m.url()))

	// Tokens the manager refuses, with their exact reasons.
	for _, tc := range []struct{ name, tok, want string }{
		{"expired", tokExpired, "expired"},
		{"revoked", tokRevoked, "revoked"},
		{"unknown", "no-such-token-0123456789", "not known"},
	} {
		out := d.fails(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tc.tok), tc.want)
		if got := d.status("Registration Status"); got != "Unregistered: Registration Failed" {
			t.Errorf("%s token: registration %q\n%s", tc.name, got, out)
		}
	}

	// Register, use licenses, go over and back.
	d.ok(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tokSales))
	for leaf, want := range map[string]string{
		"Registration Status": "Registered", "Authorization Status": "No Licenses in Use",
		"SmartAccount": "Acme", "VirtualAccount": "Sales", "ExportControlled": "Allowed",
	} {
		if got := d.status(leaf); got != want {
			t.Errorf("after register: %s %q, want %q", leaf, got, want)
		}
	}
	if d.alarm(agent.AlarmEvaluation) {
		t.Error("evaluation alarm still raised once registered")
	}
	udi := d.status("InstanceId")
	show := m.ok("instance", "show", udi)
	if !strings.Contains(show, "vxtest.example.com") {
		t.Errorf("manager did not get the hostname without the privacy flag:\n%s", show)
	}
	d.ok("xcommand License Smart Usage Set Type: rms Count: 3")
	d.ok("xcommand License Smart UpdateUsage")
	if got := d.status("Authorization Status"); got != "Authorized" {
		t.Errorf("3 of 5 in use: %q", got)
	}
	if show := m.ok("instance", "show", udi); !strings.Contains(show, "Rich Media Session:") || !strings.Contains(show, "3") {
		t.Errorf("manager does not show the usage:\n%s", show)
	}
	d.ok("xcommand License Smart Usage Set Type: rms Count: 7")
	d.ok("xcommand License Smart UpdateUsage")
	if got := d.status("Authorization Status"); got != "Out-of-compliance" || !d.alarm(agent.AlarmOutOfCompliance) {
		t.Errorf("7 of 5 in use: %q, alarm 30036 raised %v", got, d.alarm(agent.AlarmOutOfCompliance))
	}
	d.ok("xcommand License Smart Usage Set Type: rms Count: 2")
	d.ok("xcommand License Smart RenewAuthorization")
	d.ok("xcommand License Smart RenewRegistration")
	if got := d.status("Authorization Status"); got != "Authorized" || d.alarm(agent.AlarmOutOfCompliance) {
		t.Errorf("back to 2: %q, alarm 30036 raised %v", got, d.alarm(agent.AlarmOutOfCompliance))
	}
	d.fails("xconfiguration License Smart Transport Mode: Direct", "deregistered first")

	// Reregister to another virtual account.
	d.fails(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tokSupport), "Reregister: Yes")
	d.ok(fmt.Sprintf(`xcommand License Smart Register Token: %q Reregister: Yes`, tokSupport))
	if got := d.status("VirtualAccount"); got != "Support" {
		t.Errorf("after reregister: virtual account %q", got)
	}
	if got := d.status("ExportControlled"); got != "Not Allowed" {
		t.Errorf("after reregister with a no-export-control token: %q", got)
	}
	if ev := m.ok("events", "--va", "Support"); !strings.Contains(ev, udi) {
		t.Errorf("Support events do not show the instance:\n%s", ev)
	}

	// Manager down: the renewal fails with its reason, alarms go up; the
	// manager comes back: the automatic retry clears them.
	m.stop()
	d.fails("xcommand License Smart RenewAuthorization", "connection refused")
	if !d.alarm(agent.AlarmCommError) || !d.alarm(agent.AlarmAuthRenewFailed) {
		t.Errorf("manager down: alarms 30042/30044 raised %v/%v", d.alarm(agent.AlarmCommError), d.alarm(agent.AlarmAuthRenewFailed))
	}
	if r := d.status("FailureReason"); !strings.Contains(r, "connection refused") {
		t.Errorf("failure reason %q", r)
	}
	m.start()
	testsupport.Eventually(t, "the retry to clear alarms 30042 and 30044", func() bool {
		return !d.alarm(agent.AlarmCommError) && !d.alarm(agent.AlarmAuthRenewFailed)
	})
	if r := d.status("FailureReason"); r != "" {
		t.Errorf("failure reason %q after recovery", r)
	}

	// Deregister: licenses return at once; back to evaluation.
	out := d.ok("xcommand License Smart Deregister")
	if strings.Contains(out, "Warning") {
		t.Errorf("deregister with the manager up warned:\n%s", out)
	}
	if got := d.status("Authorization Status"); got != "Evaluation Mode" {
		t.Errorf("after deregister: %q", got)
	}
	if out, err := exec.Command(m.bin, "--data", m.data, "instance", "show", udi).CombinedOutput(); err == nil {
		t.Errorf("manager still lists the instance after deregister:\n%s", out)
	}
	d.ok("xconfiguration License Smart Transport Mode: Direct")
	d.ok("xconfiguration License Smart Transport Mode: OnPrem")

	// A used-up token.
	d.fails(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tokSales), "has been used 1 of 1 times")

	// Registration while the manager is down: pending, retried, registered
	// once it is back; alarm 30042 raised then cleared.
	tokSales2 := m.token("--va", "Sales")
	m.stop()
	d.fails(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tokSales2), "retrying every 15 minutes")
	if got := d.status("Registration Status"); got != "Unregistered: Registration Pending" || !d.alarm(agent.AlarmCommError) {
		t.Errorf("register while down: %q, alarm 30042 %v", got, d.alarm(agent.AlarmCommError))
	}
	m.start()
	testsupport.Eventually(t, "the pending registration to complete", func() bool { return d.status("Registration Status") == "Registered" })
	// The state and its alarms are settled together.
	if d.alarm(agent.AlarmCommError) {
		t.Error("alarm 30042 still raised after the registration went through")
	}

	// The instance is removed on the manager: the next exchange ends the
	// registration, with a warning; registering again works.
	m.ok("instance", "remove", "--yes", udi)
	d.fails("xcommand License Smart RenewAuthorization", "not registered")
	if got := d.status("Registration Status"); got != "Unregistered" {
		t.Errorf("after removal on the manager: %q", got)
	}
	if w := d.status("Warning"); !strings.Contains(w, "Register again") {
		t.Errorf("after removal on the manager: warning %q", w)
	}
	d.ok(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tokSales2))

	// Deregister while the manager is down: local, with the warning.
	m.stop()
	out = d.ok("xcommand License Smart Deregister")
	if !strings.Contains(out, "by hand") {
		t.Errorf("deregister while down:\n%s", out)
	}
	if got := d.status("Registration Status"); got != "Unregistered" {
		t.Errorf("after local deregister: %q", got)
	}

	// Restart the agent: the state survives.
	d.stop()
	d.start()
	if got := d.status("Authorization Status"); got != "Evaluation Mode" {
		t.Errorf("after restart: %q", got)
	}

	for _, secret := range []string{tokSales, tokSales2, tokSupport, tokRevoked, tokExpired} {
		if strings.Contains(d.logs.String(), secret) {
			t.Errorf("the agent log shows a token")
		}
		if strings.Contains(d.ok("xstatus License Smart"), secret) {
			t.Errorf("xstatus shows a token")
		}
	}
}
