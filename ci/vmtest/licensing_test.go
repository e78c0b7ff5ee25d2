package vmtest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// registrationLimit bounds the wait for an exchange with the manager to
// show in xstatus (software emulation makes the guest slow).
const registrationLimit = 90 * time.Second

// xstatusValue returns the value of the line `*s <path>: <value>` (or
// `*r`, `*c`) in an xAPI answer, without its quotes.
func xstatusValue(out, path string) (string, bool) {
	re := regexp.MustCompile(`(?m)^\*[src] ` + regexp.QuoteMeta(path) + `: (.*?)[ \t]*$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		return "", false
	}
	return strings.Trim(m[1], `"`), true
}

// xshellPrompt is the admin shell's prompt; rootPrompt the root shell's
// (gosh).
var (
	xshellPrompt = regexp.MustCompile(`xshell> `)
	rootPrompt   = regexp.MustCompile(`\$ |# `)
)

// xapiLine runs line in the admin shell like VM.XAPI and then waits for the
// shell's next prompt, so that the next line is not typed ahead: a line
// typed before the prompt is echoed before it, and the answer then starts
// on the prompt's line ("xshell> OK"), where VM.XAPI does not see it.
func xapiLine(t *testing.T, v *VM, line string) string {
	t.Helper()
	out := v.XAPI(t, line)
	if _, _, err := v.Expect(xshellPrompt, CommandTimeout); err != nil {
		t.Fatalf("no admin shell prompt after %q: %v", line, err)
	}
	return out
}

// runRoot runs cmd in the root shell like VM.RunExit and then waits for
// the shell's next prompt (see xapiLine).
func runRoot(t *testing.T, v *VM, cmd string) (string, int) {
	t.Helper()
	out, code := v.RunExit(t, cmd)
	if _, _, err := v.Expect(rootPrompt, CommandTimeout); err != nil {
		t.Fatalf("no root shell prompt after %q: %v", cmd, err)
	}
	return out, code
}

// pollXAPI repeats line in the admin shell until ok accepts the answer or
// limit passes; it returns the last answer and whether ok accepted it.
func pollXAPI(t *testing.T, v *VM, line string, limit time.Duration, ok func(string) bool) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out := xapiLine(t, v, line)
		if ok(out) {
			return out, true
		}
		if time.Now().After(deadline) {
			return out, false
		}
		time.Sleep(2 * time.Second)
	}
}

// wantLines fails the test for each line of want missing from out.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// wantOK fails the test unless out is a successful xAPI answer (ending
// in OK) holding each line of want.
func wantOK(t *testing.T, what, out string, want ...string) {
	t.Helper()
	if !strings.HasSuffix(out, "\nOK\n") && out != "OK\n" {
		t.Errorf("%s did not end in OK:\n%s", what, out)
	}
	wantLines(t, what, out, want...)
}

// statusIs reports whether an xstatus License Smart answer shows the
// registration and authorization status given.
func statusIs(reg, auth string) func(string) bool {
	return func(out string) bool {
		r, _ := xstatusValue(out, "License Smart Registration Status")
		a, _ := xstatusValue(out, "License Smart Authorization Status")
		return r == reg && a == auth
	}
}

// instanceOf finds the instance with udi in the manager's list.
func instanceOf(list []ssmInstance, udi string) (ssmInstance, bool) {
	for _, in := range list {
		if in.UDI == udi {
			return in, true
		}
	}
	return ssmInstance{}, false
}

// usageOf is the usage the manager holds for type typ of in: count and
// state ("" when the type is not listed).
func usageOf(in ssmInstance, typ string) (int64, string) {
	for _, u := range in.Usage {
		if u.Type == typ {
			return u.InUse, u.State
		}
	}
	return 0, ""
}

// TestLicensing boots an image that trusts a manager on the host and, in
// one boot, drives Smart Licensing from the admin shell against the real
// ssm serving On-Prem at 10.0.2.2 (QEMU's user network): evaluation at
// first, a refused URL, registration with a token (Registered and
// Authorized, the instance on the manager with the device's serial),
// usage reported with UpdateUsage and seen by the manager, out of
// compliance and back, deregistration (evaluation again, the instance and
// its licenses gone on the manager); the token appears in no xstatus or
// xconfiguration answer, no log on the device or the manager, and no
// licensing file.
func TestLicensing(t *testing.T) {
	RequireVM(t)
	begin := time.Now()
	mark := func(what string, since time.Time) time.Time {
		t.Logf("%s: %s", what, time.Since(since).Round(100*time.Millisecond))
		return time.Now()
	}

	// The manager on the host, reached by the guest at 10.0.2.2.
	step := time.Now()
	mgr := startSSM(t, guestHostAddr, "127.0.0.1", "localhost")
	mgr.CheckServerCert(t, guestHostAddr)
	mgr.Run(t, "account", "create", "Acme")
	mgr.Run(t, "va", "create", "--account", "Acme", "Sales")
	mgr.Run(t, "license", "add", "--va", "Sales", "--type", "rms", "--count", "10")
	mgr.Run(t, "license", "add", "--va", "Sales", "--type", "room", "--count", "5")
	token := mgr.Token(t, "--va", "Sales", "--uses", "1", "--export-control")
	url := mgr.URL(guestHostAddr)
	step = mark("manager built, initialised and serving on 127.0.0.1:"+fmt.Sprint(mgr.Port), step)

	img := Image(t, WithTrustedCA(mgr.CAPEM))
	mark("image trusting the manager CA", step)
	v := Boot(t, img)
	_, ready := v.WaitReady(t)
	t.Logf("%s: ready %s after QEMU start", v.Accel, ready.Round(100*time.Millisecond))
	step = time.Now()
	inVM := step

	// Every xstatus and xconfiguration answer is kept to look for the
	// token at the end.
	var answers []string
	xapi := func(line string) string {
		out := xapiLine(t, v, line)
		if strings.HasPrefix(line, "xstatus") || strings.HasPrefix(line, "xconfiguration") {
			answers = append(answers, out)
		}
		return out
	}
	smart := func() string { return xapi("xstatus License Smart") }

	v.Login(t, "admin", DefaultAdminPassword)
	unit := xapi("xstatus SystemUnit")
	serial, ok := xstatusValue(unit, "SystemUnit Hardware SerialNumber")
	if !ok || serial == "" {
		t.Fatalf("xstatus SystemUnit shows no serial number:\n%s", unit)
	}
	udi, _ := xstatusValue(unit, "SystemUnit Hardware UDI")

	// Evaluation at first, with the usage the device reports.
	wantOK(t, "usage set (evaluation)", xapi("xcommand License Smart Usage Set Type: rms Count: 2"))
	st := smart()
	wantLines(t, "xstatus License Smart (evaluation)", st,
		`*s License Smart Enabled: "On"`,
		`*s License Smart Registration Status: "Unregistered"`,
		`*s License Smart Authorization Status: "Evaluation Mode"`,
		`*s License Smart Usage 1 Type: "Rich Media Session"`,
		`*s License Smart Usage 1 Count: 2`,
		`*s License Smart Usage 1 Status: "Evaluation Mode"`)
	wantLines(t, "xstatus Alarm (evaluation)", xapi("xstatus Alarm"), "30035")

	// Transport: a URL that is not https is refused, the manager's taken.
	bad := xapi(fmt.Sprintf(`xconfiguration License Smart Transport URL: "http://%s:%d/SmartTransport"`, guestHostAddr, mgr.Port))
	if !strings.HasSuffix(bad, "\nERROR\n") || !strings.Contains(bad, "*r Reason:") || !strings.Contains(bad, "https") {
		t.Errorf("an http transport URL was not refused with a reason naming https:\n%s", bad)
	}
	wantOK(t, "transport mode", xapi("xconfiguration License Smart Transport Mode: OnPrem"))
	wantOK(t, "transport URL", xapi(fmt.Sprintf("xconfiguration License Smart Transport URL: %q", url)))
	wantLines(t, "xconfiguration License Smart", xapi("xconfiguration License Smart"),
		`*c xConfiguration License Smart Transport Mode: OnPrem`, fmt.Sprintf(`*c xConfiguration License Smart Transport URL: %q`, url))

	// Register with the token: Registered, then Authorized for the usage.
	reg := time.Now()
	res := xapiLine(t, v, fmt.Sprintf("xcommand License Smart Register Token: %q", token))
	wantOK(t, "register", res, `*r License Smart Register Status: "Registered"`)
	st, ok = pollXAPI(t, v, "xstatus License Smart", registrationLimit, statusIs("Registered", "Authorized"))
	answers = append(answers, st)
	if !ok {
		t.Fatalf("not Registered and Authorized %s after the register command:\n%s", registrationLimit, st)
	}
	step = mark("registration (command to Registered and Authorized)", reg)
	wantLines(t, "xstatus License Smart (registered)", st,
		`*s License Smart SmartAccount: "Acme"`,
		`*s License Smart VirtualAccount: "Sales"`,
		`*s License Smart ExportControlled: "Allowed"`,
		`*s License Smart Transport Mode: "OnPrem"`,
		`*s License Smart FailureReason: ""`,
		`*s License Smart Usage 1 Count: 2`,
		`*s License Smart Usage 1 Status: "Authorized"`)
	instanceID, _ := xstatusValue(st, "License Smart InstanceId")
	if !strings.Contains(instanceID, "UDI_SN:"+serial+";") || (udi != "" && instanceID != udi) {
		t.Errorf("License Smart InstanceId %q, want the device's UDI %q (serial %s)", instanceID, udi, serial)
	}
	if alarms := xapi("xstatus Alarm"); strings.Contains(alarms, "30035") || strings.Contains(alarms, "30042") {
		t.Errorf("registered and authorized, yet 30035 or 30042 is raised:\n%s", alarms)
	}

	// The manager lists the device under its serial, with the usage.
	in, ok := instanceOf(mgr.Instances(t), instanceID)
	if !ok {
		t.Fatalf("ssm instance list lacks %q:\n%s", instanceID, mgr.Run(t, "instance", "list"))
	}
	if !strings.Contains(mgr.Run(t, "instance", "list"), serial) {
		t.Errorf("ssm instance list does not show the serial %s", serial)
	}
	if in.SmartAccount != "Acme" || in.VirtualAccount != "Sales" || in.IP != "10.0.2.15" || in.Hostname == "" {
		t.Errorf("the manager holds %+v, want Acme/Sales with the device's hostname and IP 10.0.2.15", in)
	}
	var shown ssmInstance
	mgr.JSON(t, &shown, "instance", "show", instanceID)
	if n, state := usageOf(shown, "rms"); n != 2 || state != "authorized" {
		t.Errorf("the manager's rms usage of the device: %d (%s), want 2 (authorized)", n, state)
	}

	// Usage changed and reported with UpdateUsage.
	wantOK(t, "usage set 3", xapi("xcommand License Smart Usage Set Type: rms Count: 3"))
	wantOK(t, "update usage", xapi("xcommand License Smart UpdateUsage"), `*r License Smart Authorization Status: "Authorized"`)
	mgr.JSON(t, &shown, "instance", "show", instanceID)
	if n, state := usageOf(shown, "rms"); n != 3 || state != "authorized" {
		t.Errorf("after UpdateUsage the manager's rms usage of the device is %d (%s), want 3 (authorized)", n, state)
	}
	if n := mgr.InUse(t, "Sales", "rms"); n != 3 {
		t.Errorf("ssm license list --va Sales: %d rms in use, want 3", n)
	}

	// More room licenses than the virtual account has: out of compliance
	// (alarm 30036) until usage falls back.
	wantOK(t, "usage set room 6", xapi("xcommand License Smart Usage Set Type: room Count: 6"))
	wantOK(t, "update usage (room 6)", xapi("xcommand License Smart UpdateUsage"), `*r License Smart Authorization Status: "Out-of-compliance"`)
	wantLines(t, "xstatus License Smart (out of compliance)", smart(),
		`*s License Smart Authorization Status: "Out-of-compliance"`,
		`*s License Smart Usage 2 Type: "Room Registration"`, `*s License Smart Usage 2 Count: 6`, `*s License Smart Usage 2 Status: "Out of compliance"`)
	wantLines(t, "xstatus Alarm (out of compliance)", xapi("xstatus Alarm"), "30036")
	mgr.JSON(t, &shown, "instance", "show", instanceID)
	if n, state := usageOf(shown, "room"); n != 6 || state != "out_of_compliance" {
		t.Errorf("the manager's room usage of the device: %d (%s), want 6 (out_of_compliance)", n, state)
	}
	wantOK(t, "usage set room 0", xapi("xcommand License Smart Usage Set Type: room Count: 0"))
	wantOK(t, "update usage (room 0)", xapi("xcommand License Smart UpdateUsage"), `*r License Smart Authorization Status: "Authorized"`)
	if alarms := xapi("xstatus Alarm"); strings.Contains(alarms, "30036") {
		t.Errorf("back in compliance, yet 30036 is raised:\n%s", alarms)
	}
	step = mark("usage reports", step)

	// Deregister: evaluation again, nothing left on the manager.
	wantOK(t, "deregister", xapi("xcommand License Smart Deregister"), `*r License Smart Deregister Status: "Deregistered"`)
	st, ok = pollXAPI(t, v, "xstatus License Smart", registrationLimit, statusIs("Unregistered", "Evaluation Mode"))
	answers = append(answers, st)
	if !ok {
		t.Errorf("after Deregister not Unregistered and in Evaluation Mode:\n%s", st)
	}
	wantLines(t, "xstatus License Smart (deregistered)", st,
		`*s License Smart Warning: ""`, `*s License Smart Usage 1 Status: "Evaluation Mode"`)
	wantLines(t, "xstatus Alarm (deregistered)", xapi("xstatus Alarm"), "30035")
	if _, ok := instanceOf(mgr.Instances(t), instanceID); ok {
		t.Errorf("after Deregister the manager still lists %s:\n%s", instanceID, mgr.Run(t, "instance", "list"))
	}
	if n := mgr.InUse(t, "Sales", "rms"); n != 0 {
		t.Errorf("after Deregister %d rms licenses are still in use on the manager", n)
	}
	events := mgr.Run(t, "events", "--va", "Sales")
	wantLines(t, "ssm events --va Sales", events, "registered", "authorized", "out_of_compliance", "deregistered")
	step = mark("deregistration", step)

	// The token shows nowhere but where it was typed.
	for _, a := range answers {
		if strings.Contains(a, token) {
			t.Errorf("an xAPI answer shows the registration token:\n%s", a)
		}
	}
	if strings.Contains(mgr.Log(), token) {
		t.Error("the manager's log shows the registration token")
	}
	v.Logout(t)

	// The device's files, searched over SSH as root (typing long lines on
	// the console is slow under emulation: the line editor redraws the
	// whole line at each key). u-root's grep -q exits 0 on a match and 1
	// without one (or on a usage error), so the agent's log line about the
	// registration must be found by the same command. A token may start
	// with "-", which grep would take for flags; the rest is as unique.
	const where = "/data/log /data/licensing /persist"
	v.SetRootPassword(t, DefaultRootPassword, RootPassword) // root's default password is console only
	if out, code := v.SSH(t, "root", RootPassword, "grep -r -q -F registered "+where); code != 0 {
		t.Errorf("grep finds no registration in the device's logs (exit %d):\n%s", code, out)
	}
	needle := strings.TrimLeft(token, "-")
	if out, code := v.SSH(t, "root", RootPassword, fmt.Sprintf("grep -r -q -F %s %s", needle, where)); code != 1 {
		files, _ := v.SSH(t, "root", RootPassword, fmt.Sprintf("grep -r -l -F %s %s", needle, where))
		t.Errorf("the token is in device files (grep -q exit %d):\n%s\n%s", code, out, files)
	}
	step = mark("token search in the device's files", step)

	dormantOnVCS(t, v, mgr)
	step = mark("dormant on a VCS, resumed on Expressway", step)

	v.Login(t, "root", DefaultRootPassword)
	if out, code := runRoot(t, v, "sync"); code != 0 {
		t.Errorf("sync exited %d: %s", code, out)
	}
	v.PowerOff(t)
	mark("power off", step)
	mark("from ready to power off", inVM)
	mark("TestLicensing in all", begin)
}

// dormantOnVCS registers the device again, resets it keeping only Smart
// Licensing (factory-reset -t makes it a VCS), and checks that on the VCS
// the kept registration is dormant: shown, no licensing alarm, manager
// exchanges refused and none made (the manager's last contact stays), and
// that converting back to Expressway resumes it without a new token.
// Root's password must be RootPassword on entry; the reset gives both
// accounts their defaults again.
func dormantOnVCS(t *testing.T, v *VM, mgr *ssmHost) {
	t.Helper()
	token := mgr.Token(t, "--va", "Sales", "--uses", "1", "--export-control")
	v.Login(t, "admin", DefaultAdminPassword)
	wantOK(t, "register again", xapiLine(t, v, fmt.Sprintf("xcommand License Smart Register Token: %q", token)),
		`*r License Smart Register Status: "Registered"`)
	st, ok := pollXAPI(t, v, "xstatus License Smart", registrationLimit, statusIs("Registered", "Authorized"))
	if !ok {
		t.Fatalf("not Registered and Authorized again:\n%s", st)
	}
	udi, _ := xstatusValue(st, "License Smart InstanceId")
	v.Logout(t)

	resetAndWait(t, v, RootPassword, "-t --yes")
	v.Login(t, "admin", DefaultAdminPassword)
	wantLines(t, "xstatus SystemUnit after factory-reset -t", xapiLine(t, v, "xstatus SystemUnit"), `"VCS"`)
	wantLines(t, "xstatus License Smart on the VCS", xapiLine(t, v, "xstatus License Smart"),
		`*s License Smart Dormant: "Yes"`, `*s License Smart Registration Status: "Registered"`)
	// The last contact is read once the device is a dormant VCS: a report
	// the Expressway sent just after its authorization (before the reset)
	// is not a contact of the VCS.
	var before ssmInstance
	mgr.JSON(t, &before, "instance", "show", udi)
	if alarms := xapiLine(t, v, "xstatus Alarm"); regexp.MustCompile(`\b300[34]\d\b`).MatchString(alarms) {
		t.Errorf("licensing alarms raised on the VCS:\n%s", alarms)
	}
	renew := xapiLine(t, v, "xcommand License Smart RenewAuthorization")
	wantLines(t, "RenewAuthorization on the VCS", renew, "ServiceSelect Brand: Expressway", "ERROR")
	var during ssmInstance
	mgr.JSON(t, &during, "instance", "show", udi)
	if !during.LastSeen.Equal(before.LastSeen) {
		t.Errorf("the dormant VCS contacted the manager: last seen %s, then %s", before.LastSeen, during.LastSeen)
	}

	wantOK(t, "convert to Expressway", xapiLine(t, v, "xconfiguration SystemUnit ServiceSelect Brand: Expressway"))
	st, ok = pollXAPI(t, v, "xstatus License Smart", registrationLimit, statusIs("Registered", "Authorized"))
	if !ok {
		t.Fatalf("the kept registration did not resume on Expressway:\n%s", st)
	}
	wantLines(t, "xstatus License Smart on Expressway again", st, `*s License Smart Dormant: "No"`, "InstanceId: \""+udi+"\"")
	v.Logout(t)
}
