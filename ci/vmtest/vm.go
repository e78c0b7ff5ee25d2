package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/vm"
)

// Timeouts of the console steps (software emulation is slow, and the test
// machines are shared).
const (
	BootTimeout    = 3 * time.Minute
	CommandTimeout = 90 * time.Second
)

// Option sets a QEMU option of Boot.
type Option func(*vm.Options)

// RTCBase starts the guest clock at base, e.g. "2026-01-01T00:00:00".
func RTCBase(base string) Option { return func(o *vm.Options) { o.RTCBase = base } }

// ExtraDisk attaches another raw disk image: the first one is the guest's
// /dev/vdb. A provisioning seed is one written with firstboot.WriteSeedDisk.
func ExtraDisk(path string) Option {
	return func(o *vm.Options) { o.ExtraDisks = append(o.ExtraDisks, path) }
}

// VM is a booted appliance under test.
type VM struct {
	// Disk is the VM's private copy of the image.
	Disk string
	// HTTPSPort and SSHPort are the host ports forwarded to the guest's
	// 443 and 22 on 127.0.0.1.
	HTTPSPort, SSHPort int
	// Accel is "kvm" or "tcg".
	Accel string

	opts    vm.Options
	con     *console
	cursor  int // offset in the clean console text already consumed
	seq     int
	started time.Time

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	cancel context.CancelFunc
}

// Boot copies img to a private disk and starts QEMU on it. The VM is
// killed when the test ends; a failed test prints the console transcript.
func Boot(t testing.TB, img string, opts ...Option) *VM {
	t.Helper()
	RequireVM(t)
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	if err := copySparse(img, disk); err != nil {
		t.Fatal(err)
	}
	o := vm.Options{Image: disk, StateDir: dir, HTTPSPort: freePort(t), SSHPort: freePort(t)}
	for _, f := range opts {
		f(&o)
	}
	v := &VM{Disk: disk, HTTPSPort: o.HTTPSPort, SSHPort: o.SSHPort, opts: o, con: newConsole()}
	t.Cleanup(func() {
		v.stop()
		if t.Failed() {
			t.Logf("console transcript:\n%s", v.con.transcript())
		}
	})
	v.Start(t)
	return v
}

// Start boots QEMU on the VM's disk (again, after PowerOff or Kill).
func (v *VM) Start(t testing.TB) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cmd != nil {
		t.Fatal("Start: the VM is already running")
	}
	q, err := vm.New(v.opts)
	if err != nil {
		t.Fatal(err)
	}
	v.Accel = q.Accel
	ctx, cancel := context.WithCancel(context.Background())
	cmd := q.Command(ctx, nil, v.con, v.con)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	fmt.Fprintf(v.con, "\n[vmtest: starting QEMU (%s): %s]\n", q.Accel, q)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting QEMU: %v", err)
	}
	v.started = time.Now()
	v.cmd, v.stdin, v.cancel = cmd, stdin, cancel
	v.con.mu.Lock()
	v.con.reply = func(s string) { io.WriteString(stdin, s) }
	v.con.mu.Unlock()
	exited := make(chan struct{})
	v.exited = exited
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(v.con, "\n[vmtest: QEMU exited: %v]\n", err)
		close(exited)
	}()
}

// Started is when QEMU was last started.
func (v *VM) Started() time.Time { return v.started }

func (v *VM) stop() {
	v.mu.Lock()
	cmd, cancel, exited := v.cmd, v.cancel, v.exited
	v.cmd = nil
	v.mu.Unlock()
	if cmd == nil {
		return
	}
	cancel()
	<-exited
}

// Send types s on the serial console.
func (v *VM) Send(t testing.TB, s string) {
	t.Helper()
	v.mu.Lock()
	stdin := v.stdin
	v.mu.Unlock()
	if stdin == nil {
		t.Fatal("Send: the VM is not running")
	}
	if _, err := io.WriteString(stdin, s); err != nil {
		t.Fatalf("typing on the console: %v", err)
	}
}

// ErrTimeout is returned by Expect when the marker did not show in time.
var ErrTimeout = errors.New("console marker did not appear in time")

// ErrExited is returned by Expect when QEMU ended first.
var ErrExited = errors.New("QEMU exited")

// Expect waits until re matches the console text printed since the last
// match and returns the text before the match and the match itself.
func (v *VM) Expect(re *regexp.Regexp, timeout time.Duration) (before, match string, err error) {
	return v.expect(re, timeout, true)
}

// expect is Expect; consume false leaves the matched text for the next
// Expect.
func (v *VM) expect(re *regexp.Regexp, timeout time.Duration, consume bool) (before, match string, err error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		text, changed := v.con.snapshot(v.cursor)
		if loc := re.FindStringIndex(text); loc != nil {
			if consume {
				v.cursor += loc[1]
			}
			return text[:loc[0]], text[loc[0]:loc[1]], nil
		}
		v.mu.Lock()
		exited := v.exited
		v.mu.Unlock()
		select {
		case <-changed:
		case <-exited:
			// Take what was printed before the exit into account.
			text, _ := v.con.snapshot(v.cursor)
			if loc := re.FindStringIndex(text); loc != nil {
				if consume {
					v.cursor += loc[1]
				}
				return text[:loc[0]], text[loc[0]:loc[1]], nil
			}
			return text, "", fmt.Errorf("waiting for %q: %w", re, ErrExited)
		case <-deadline.C:
			return text, "", fmt.Errorf("waiting %s for %q: %w", timeout, re, ErrTimeout)
		}
	}
}

// WaitFor waits for the literal marker and returns the text before it; the
// test fails on timeout.
func (v *VM) WaitFor(t testing.TB, marker string, timeout time.Duration) string {
	t.Helper()
	before, _, err := v.Expect(regexp.MustCompile(regexp.QuoteMeta(marker)), timeout)
	if err != nil {
		t.Fatal(err)
	}
	return before
}

var readyRE = regexp.MustCompile(`vxway: ready in (\d+)ms`)

// WaitReady waits for "vxway: ready in <N>ms" and returns N (time from
// kernel start, as the init reports it) and the time since QEMU started.
func (v *VM) WaitReady(t testing.TB) (initReported, sinceStart time.Duration) {
	t.Helper()
	_, m, err := v.Expect(readyRE, BootTimeout)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Since(v.started)
	ms, _ := strconv.Atoi(readyRE.FindStringSubmatch(m)[1])
	return time.Duration(ms) * time.Millisecond, since
}

// Login waits for the login prompt and logs user in. Lines are typed with
// a carriage return, as a terminal's Enter key sends.
func (v *VM) Login(t testing.TB, user, password string) {
	t.Helper()
	v.WaitFor(t, "login:", CommandTimeout)
	v.Send(t, user+"\r")
	v.WaitFor(t, "Password:", CommandTimeout)
	v.Send(t, password+"\r")
	_, m, err := v.Expect(promptRE, CommandTimeout)
	if err != nil {
		t.Fatalf("logging in as %s: no shell prompt: %v", user, err)
	}
	if m == "Login incorrect" {
		t.Fatalf("logging in as %s: Login incorrect", user)
	}
}

// promptRE matches a shell prompt (gosh "$ ", xshell "xshell> ", "# ",
// "$ ") or a refused login.
var promptRE = regexp.MustCompile(`> |# |\$ |Login incorrect`)

// Logout ends the shell; the next Login waits for the prompt that follows.
func (v *VM) Logout(t testing.TB) {
	t.Helper()
	v.Send(t, "exit\r")
}

// Run runs cmd in the root shell and returns its output (stdout and
// stderr as the console shows them, without the typed line); the test
// fails when it exits non-zero.
func (v *VM) Run(t testing.TB, cmd string) string {
	t.Helper()
	out, code := v.RunExit(t, cmd)
	if code != 0 {
		t.Fatalf("%q exited %d:\n%s", cmd, code, out)
	}
	return out
}

// RunExit runs cmd in the root shell and returns its output and exit code.
// It returns once the shell shows its next prompt (a line editor drops what
// is typed before it is ready; the prompt is left for a later Expect), so
// cmd must give the shell back: use Send for exit, reboot and the like.
func (v *VM) RunExit(t testing.TB, cmd string) (string, int) {
	t.Helper()
	v.seq++
	// The quotes keep the typed line from matching: the shell prints
	// VXEND<n>:<code>, the echo shows VX''END<n>.
	end := fmt.Sprintf("VXEND%d", v.seq)
	v.Send(t, fmt.Sprintf("%s; echo VX''END%d:$?\r", cmd, v.seq))
	re := regexp.MustCompile(end + `:(\d+)\n`)
	before, m, err := v.Expect(re, CommandTimeout)
	if err != nil {
		t.Fatalf("running %q: %v", cmd, err)
	}
	code, _ := strconv.Atoi(re.FindStringSubmatch(m)[1])
	if _, _, err := v.expect(shellPromptRE, CommandTimeout, false); err != nil {
		t.Fatalf("no shell prompt after %q: %v", cmd, err)
	}
	return stripEcho(before, fmt.Sprintf("VX''END%d", v.seq)), code
}

// shellPromptRE matches the root shell's prompt.
var shellPromptRE = regexp.MustCompile(`> |# |\$ `)

// stripEcho drops the console's echo of the typed line (up to its marker
// and the line end) from out. A line editor may draw the line several
// times; the last drawing counts.
func stripEcho(out, typed string) string {
	if i := strings.LastIndex(out, typed); i >= 0 {
		out = out[i+len(typed):]
		if j := strings.IndexByte(out, '\n'); j >= 0 {
			out = out[j+1:]
		}
	}
	return strings.TrimRight(out, "\n ")
}

var xapiEndRE = regexp.MustCompile(`(?m)^(OK|ERROR)[ \t]*\n`)

// XAPI types line in the admin (xAPI) shell and returns the output up to
// and including the final OK or ERROR line, without the typed line.
func (v *VM) XAPI(t testing.TB, line string) string {
	t.Helper()
	v.Send(t, line+"\r")
	before, m, err := v.Expect(xapiEndRE, CommandTimeout)
	if err != nil {
		t.Fatalf("xAPI %q: %v", line, err)
	}
	if i := strings.Index(before, line); i >= 0 {
		before = before[i+len(line):]
		before = strings.TrimPrefix(before, "\n")
	}
	return before + m
}

// Reboot runs reboot in the root shell and waits until the device is
// ready again (QEMU stays up across the reboot).
func (v *VM) Reboot(t testing.TB) {
	t.Helper()
	v.Send(t, "reboot\r")
	v.WaitReady(t)
}

// PowerOff runs poweroff in the root shell and waits for QEMU to exit.
func (v *VM) PowerOff(t testing.TB) {
	t.Helper()
	v.Send(t, "poweroff\r")
	v.WaitExit(t, BootTimeout)
}

// WaitExit waits for QEMU to end by itself.
func (v *VM) WaitExit(t testing.TB, timeout time.Duration) {
	t.Helper()
	v.mu.Lock()
	exited := v.exited
	v.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(timeout):
		t.Fatalf("QEMU still running %s after power off", timeout)
	}
	v.stop()
}

// Kill ends QEMU at once, like pulling the power cord.
func (v *VM) Kill(t testing.TB) {
	t.Helper()
	v.stop()
}

// Transcript is everything the console printed so far (escape sequences
// and carriage returns removed).
func (v *VM) Transcript() string { return v.con.transcript() }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// copySparse copies an image, leaving zero blocks as holes.
func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening %s: %w", src, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	var pos int64
	for {
		n, rerr := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, err := out.WriteAt(buf[:n], pos); err != nil {
				out.Close()
				return fmt.Errorf("writing %s: %w", dst, err)
			}
		}
		pos += int64(n)
		if rerr != nil {
			break
		}
	}
	if err := out.Truncate(fi.Size()); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
