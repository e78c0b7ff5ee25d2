package vmtest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBoot boots the sample image once and checks, in order: ready marker,
// root login and a command, admin over SSH, root refused over SSH while it
// has the default password, the admin xAPI shell with the default password
// alarms, root over SSH once its password is changed on the console, the
// agent and an admin session running as their own users, a file on /data
// surviving a reboot, and a clean power off.
func TestBoot(t *testing.T) {
	img := Image(t)
	vm := Boot(t, img)
	initReady, sinceStart := vm.WaitReady(t)
	t.Logf("%s: ready %s after QEMU start, init reports %s after kernel start", vm.Accel, sinceStart.Round(time.Millisecond), initReady)

	vm.Login(t, "root", DefaultRootPassword)
	if out := vm.Run(t, "echo hello from $(uname -s)"); !strings.Contains(out, "hello from Linux") {
		t.Errorf("echo printed %q", out)
	}
	ls := vm.Run(t, "ls /bin")
	for _, want := range []string{"xcli", "xstatus", "smartagent", "factory-reset", "gosh", "ls", "mount", "ip"} {
		if !regexp.MustCompile(`(?m)(^|\s)` + regexp.QuoteMeta(want) + `(\s|$)`).MatchString(ls) {
			t.Errorf("/bin lacks %s:\n%s", want, ls)
		}
	}
	if out, code := vm.RunExit(t, "cat /nonexistent"); code == 0 {
		t.Errorf("cat /nonexistent exited 0: %q", out)
	}
	mark := fmt.Sprintf("vmtest %d", time.Now().UnixNano())
	vm.Run(t, "echo '"+mark+"' > /data/vmtest.txt")
	vm.Run(t, "sync")
	vm.Logout(t)

	// Over SSH: admin with the default password; root not while it has
	// the default password (console only), then with the one set on the
	// console.
	if out, _ := vm.SSH(t, "admin", DefaultAdminPassword, "xstatus SystemUnit"); !strings.Contains(out, "*s SystemUnit") {
		t.Errorf("ssh admin xstatus SystemUnit = %q", out)
	}
	if err := vm.SSHLogin("root", DefaultRootPassword); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("ssh root with the default password: %v, want the login refused", err)
	}

	vm.Login(t, "admin", DefaultAdminPassword)
	unit := vm.XAPI(t, "xstatus SystemUnit")
	for _, want := range []string{"*s SystemUnit", "X14.2.0-vxway", "Expressway", "OK"} {
		if !strings.Contains(unit, want) {
			t.Errorf("xstatus SystemUnit lacks %q:\n%s", want, unit)
		}
	}
	alarms := vm.XAPI(t, "xstatus Alarm")
	for _, want := range []string{"40003", "40005", "OK"} {
		if !strings.Contains(alarms, want) {
			t.Errorf("xstatus Alarm lacks %q:\n%s", want, alarms)
		}
	}
	vm.Logout(t)

	vm.SetRootPassword(t, DefaultRootPassword, RootPassword)
	if out, code := vm.SSH(t, "root", RootPassword, "cat /data/vmtest.txt"); code != 0 || !strings.Contains(out, mark) {
		t.Errorf("ssh root cat = %q, exit %d", out, code)
	}
	if out, code := vm.SSH(t, "root", RootPassword, "cat /nonexistent"); code == 0 {
		t.Errorf("ssh root cat /nonexistent exited 0: %q", out)
	}

	checkPrivilegeSeparation(t, vm)

	vm.Login(t, "root", RootPassword)
	vm.Reboot(t)
	vm.Login(t, "root", RootPassword)
	if out := vm.Run(t, "cat /data/vmtest.txt"); !strings.Contains(out, mark) {
		t.Errorf("after reboot /data/vmtest.txt = %q, want %q", out, mark)
	}
	vm.PowerOff(t)
}

// checkPrivilegeSeparation: while an admin SSH session is open, root reads
// /proc and finds the agent and the admin's xAPI shell running as their
// own users, not uid 0; the admin shell (as its user) still changes the
// system configuration, and the host name it sets reaches the kernel.
func checkPrivilegeSeparation(t *testing.T, vm *VM) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("privilege separation checks: %s", time.Since(start).Round(100*time.Millisecond)) }()
	closeAdmin := vm.SSHShell(t, "admin", DefaultAdminPassword)
	var procs map[string][]procStatus
	for range 20 {
		out, _ := vm.SSH(t, "root", RootPassword, "cat /proc/[0-9]*/status")
		procs = parseProcStatus(out)
		if len(procs["xshell"]) > 0 && len(procs["smartagent"]) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond) // the session's shell is starting
	}
	closeAdmin()
	for _, want := range []struct {
		name string
		uid  string
	}{{"smartagent", "200"}, {"xshell", "1000"}} {
		ps := procs[want.name]
		if len(ps) == 0 {
			t.Errorf("no %s process in /proc", want.name)
		}
		for _, p := range ps {
			if p.uids != strings.Repeat(want.uid+"\t", 3)+want.uid {
				t.Errorf("%s runs as uids %q, want %s", want.name, p.uids, want.uid)
			}
		}
	}

	out, code := vm.SSH(t, "admin", DefaultAdminPassword, "xconfiguration SystemUnit Hostname: vxpriv01\nxconfiguration SystemUnit Domain: example.com")
	if code != 0 || strings.Count(out, "OK") != 2 {
		t.Errorf("admin changing the host name and domain: exit %d\n%s", code, out)
	}
	var host string
	for range 20 {
		host, _ = vm.SSH(t, "root", RootPassword, "hostname")
		if strings.TrimSpace(host) == "vxpriv01" {
			break
		}
		time.Sleep(250 * time.Millisecond) // init applies it within a second
	}
	if strings.TrimSpace(host) != "vxpriv01" {
		t.Errorf("kernel host name %q after the admin set vxpriv01", host)
	}
}

// procStatus is what TestBoot reads of a /proc/<pid>/status.
type procStatus struct {
	uids string // the Uid: line's real, effective, saved and fs ids
}

// parseProcStatus groups the status files printed one after another by
// their Name: line.
func parseProcStatus(out string) map[string][]procStatus {
	procs := map[string][]procStatus{}
	var name string
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			name = v
		case "Uid":
			procs[name] = append(procs[name], procStatus{uids: v})
		}
	}
	return procs
}
