package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"vxway/agentclient"
	"vxway/boot"
	"vxway/clock"
	"vxway/login"
	"vxway/platform"
	"vxway/supervise"
	"vxway/testsupport"
)

// TestMain lets the test binary stand in for the licensing agent: run as
// "smartagent" it serves the agent's socket until SIGTERM, which is what
// init's supervisor and readiness check need of it.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "smartagent" {
		fakeAgent(os.Args[1:])
		return
	}
	os.Exit(m.Run())
}

func fakeAgent(args []string) {
	if len(args) != 2 || args[0] != "--root" {
		fmt.Fprintf(os.Stderr, "fake agent: bad arguments %q\n", args)
		os.Exit(2)
	}
	sock := filepath.Join(args[1], agentclient.SocketPath)
	os.MkdirAll(filepath.Dir(sock), 0o755)
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("fake agent serving", sock)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	<-sig
	l.Close()
}

// fakeSystem records the system calls and "formats" by writing the ext4
// magic.
type fakeSystem struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeSystem) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	f.record("mount " + target)
	return nil
}
func (f *fakeSystem) Unmount(target string) error { f.record("umount " + target); return nil }
func (f *fakeSystem) MakeExt4(device, label string) error {
	f.record("mkfs " + label)
	return testsupport.WriteExt4Magic(device)
}
func (f *fakeSystem) Sync()                      { f.record("sync") }
func (f *fakeSystem) Halt(how boot.Halt) error   { f.record("halt " + how.String()); return nil }
func (f *fakeSystem) SetHostname(n string) error { f.record("hostname " + n); return nil }

func (f *fakeSystem) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// newRoot makes a device root with blank persist and data partitions, the
// image facts (passwords rootpass1 / adminpass1) and, when agent is set,
// the stand-in agent at bin/smartagent.
func newRoot(t testing.TB, agent bool) string {
	t.Helper()
	info := &platform.ImageInfo{SoftwareVersion: "X14.2-test", Hostname: "vxtest", Brand: "Expressway", Type: "Expressway-E",
		PasswordHashes: testsupport.PasswordHashes(t, "rootpass1", "adminpass1")}
	root := testsupport.DeviceRoot(t, info)
	testsupport.WritePartitions(t, root, "ESP", "persist", "data")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	if agent {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(exe, filepath.Join(root, "bin/smartagent")); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func newTestDevice(root string, console io.Writer, sys boot.System, tty string) *device {
	var mu sync.Mutex
	var ms time.Duration
	// Each reading of the boot clock moves it 7ms on.
	tick := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		ms += 7 * time.Millisecond
		return 400*time.Millisecond + ms
	}
	return &device{
		root:         root,
		console:      console,
		sys:          sys,
		clock:        clock.Real{},
		reaper:       &supervise.Reaper{},
		accounts:     []login.Account{{Name: "root", Shell: "/bin/sh", Home: "/", ConsoleOnlyWhileDefault: true}, {Name: "admin", Shell: "/bin/sh", Home: "/"}},
		tty:          tty,
		sshAddr:      "127.0.0.1:0",
		httpsAddr:    "127.0.0.1:0",
		bootTime:     tick,
		halt:         make(chan boot.Halt, 1),
		network:      func(context.Context) error { return nil },
		readyTimeout: 10 * time.Second,
	}
}

func TestBootLoginShutdown(t *testing.T) {
	root := newRoot(t, true)
	master, slave, err := login.OpenPTY("/dev")
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	console := &testsupport.SyncBuffer{}
	sys := &fakeSystem{}
	d := newTestDevice(root, console, sys, slave.Name())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.start(ctx); err != nil {
		t.Fatal(err)
	}
	out := console.String()
	for _, want := range []string{
		"init: persist (vda2) is blank: making an ext4 filesystem\n",
		"init: data (vda3) is blank: making an ext4 filesystem\n",
		"init: ssh: made the host key",
		"init: https: made a self-signed certificate for vxtest\n",
		"init: boot steps: mounts ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	// The first boot clock reading (init start) is 407ms: ready counts from
	// kernel start, services up from init start.
	var upMS, readyMS int
	i := strings.Index(out, "init: services up ")
	if i < 0 {
		t.Fatalf("no services up line:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i:], "init: services up %dms after init start\nvxway: ready in %dms\n", &upMS, &readyMS); err != nil {
		t.Fatalf("ready lines: %v\n%s", err, out)
	}
	if readyMS-upMS != 407 || upMS <= 0 {
		t.Errorf("services up %dms, ready in %dms; want ready = up + 407ms (init start)", upMS, readyMS)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "init: ") && !strings.HasPrefix(line, "vxway: ready in ") {
			t.Errorf("console line without the init: prefix: %q", line)
		}
	}
	if calls := strings.Join(sys.list(), "\n"); !strings.Contains(calls, "hostname vxtest") {
		t.Errorf("host name not set; calls:\n%s", calls)
	}
	addrs := d.addrs()
	if len(addrs) != 2 {
		t.Fatalf("listening on %v, want ssh and https", addrs)
	}

	// SSH: admin runs a command; root, still on its default password, is
	// refused.
	hostKey := readHostKey(t, root)
	sshConfig := func(user, password string) *ssh.ClientConfig {
		return &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(password)}, HostKeyCallback: ssh.FixedHostKey(hostKey)}
	}
	if c, err := ssh.Dial("tcp", addrs[0], sshConfig("root", "rootpass1")); err == nil {
		c.Close()
		t.Error("root logged in over SSH with the default password")
	}
	c, err := ssh.Dial("tcp", addrs[0], sshConfig("admin", "adminpass1"))
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := c.NewSession()
	got, err := sess.Output("echo ssh-ok-$USER")
	c.Close()
	if err != nil || string(got) != "ssh-ok-admin\n" {
		t.Errorf("ssh command output %q, %v", got, err)
	}

	// HTTPS: / leads to the sign-in page, which names the product and
	// nothing else of the device.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addrs[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Cisco Expressway") || !strings.Contains(string(body), `name="username"`) {
		t.Errorf("the page lacks the product name or the sign-in form:\n%s", body)
	}
	id, err := platform.LoadIdentity(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"Expressway-E", "vxtest", "X14.2-test", id.Serial, "40003", "default password"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the page shows %q without signing in:\n%s", secret, body)
		}
	}

	// Console login.
	d.startConsole(ctx)
	tr := testsupport.NewTranscript(master)
	at := tr.WaitFor(t, 0, "vxtest login: ")
	io.WriteString(master, "admin\n")
	at = tr.WaitFor(t, at, "Password: ")
	io.WriteString(master, "adminpass1\n")
	io.WriteString(master, "echo console-ok-$USER; exit\n")
	at = tr.WaitFor(t, at, "console-ok-admin")
	tr.WaitFor(t, at, "vxtest login: ") // back to the prompt

	// The agent's output went to its log on data.
	log, err := os.ReadFile(filepath.Join(root, "data/log/smartagent.log"))
	if err != nil || !strings.Contains(string(log), "fake agent serving") {
		t.Errorf("agent log %q, %v", log, err)
	}

	if err := d.shutdown(boot.PowerOff); err != nil {
		t.Fatal(err)
	}
	calls := sys.list()
	tail := strings.Join(calls[len(calls)-5:], "\n")
	wantTail := strings.Join([]string{"sync", "umount " + root + "/data", "umount " + root + "/persist", "sync", "halt power-off"}, "\n")
	if tail != wantTail {
		t.Errorf("shutdown calls:\n%s\nwant:\n%s", tail, wantTail)
	}
	if _, err := net.Dial("unix", filepath.Join(root, agentclient.SocketPath)); err == nil {
		t.Error("the agent still serves after shutdown")
	}

	// The second boot keeps the host key and makes no filesystem.
	console2 := &testsupport.SyncBuffer{}
	sys2 := &fakeSystem{}
	d2 := newTestDevice(root, console2, sys2, "")
	if err := d2.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d2.shutdown(boot.Reboot)
	if strings.Contains(console2.String(), "blank") || strings.Contains(console2.String(), "made") {
		t.Errorf("second boot made something again:\n%s", console2.String())
	}
	if !bytes.Equal(readHostKey(t, root).Marshal(), hostKey.Marshal()) {
		t.Error("the host key changed across the reboot")
	}
}

func TestMissingAgentStillReady(t *testing.T) {
	root := newRoot(t, false)
	console := &testsupport.SyncBuffer{}
	d := newTestDevice(root, console, &fakeSystem{}, "")
	if err := d.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.shutdown(boot.Reboot)
	out := console.String()
	if !strings.Contains(out, "bin/smartagent is not in the image") || !strings.Contains(out, "vxway: ready in ") {
		t.Errorf("console:\n%s", out)
	}
}

func TestHaltCommandsRefuseArguments(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"/bin/reboot", "now"}, nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "usage: reboot") {
		t.Errorf("reboot now = %v, want a usage error", err)
	}
	err = run(context.Background(), []string{"/init"}, nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "process 1") {
		t.Errorf("init off PID 1 = %v, want a refusal", err)
	}
}

func readHostKey(t *testing.T, root string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, login.HostKeyDir, login.HostKeyFile+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
