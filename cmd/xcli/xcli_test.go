package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/platform"
	"vxway/platform/vendorkey"
	"vxway/testsupport"
)

// binDir holds the real binary, built once in TestMain and linked under
// every name it answers to, as the image does.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xcli-test")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "xcli"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			return 2
		}
		for _, n := range []string{"xcommand", "xconfiguration", "xstatus", "xshell", "passwd", "upgrade"} {
			if err := os.Symlink("xcli", filepath.Join(dir, n)); err != nil {
				os.Stderr.WriteString(err.Error())
				return 2
			}
		}
		agentBuild := exec.Command("go", "build", "-o", filepath.Join(dir, "smartagent"), "vxway/cmd/smartagent")
		agentBuild.Env = cmd.Env
		if out, err := agentBuild.CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			return 2
		}
		binDir = dir
		return m.Run()
	}()
	os.Exit(code)
}

func buildXCLI(t *testing.T) string {
	t.Helper()
	if binDir == "" {
		t.Fatal("xcli was not built")
	}
	return binDir
}

// device makes a device root as the image and init leave it: image facts
// with TANDBERG as both default passwords, SMBIOS UUID, uptime, and the
// platform's boot step done.
// testVendor is the option-key signing key the test devices trust.
var testVendor = sync.OnceValue(func() vendorkey.Key {
	k, err := vendorkey.Generate()
	if err != nil {
		panic(err)
	}
	return k
})

func device(t *testing.T, brand string) string {
	t.Helper()
	info := testsupport.ImageInfo(t, brand)
	info.OptionKeyPublicKeys = []string{testVendor().PublicHex()}
	root := testsupport.DeviceRoot(t, info)
	testsupport.WriteProductUUID(t, root)
	testsupport.WriteFiles(t, root, map[string]string{"proc/uptime": "86461.20 170000.00\n"})
	if err := platform.Boot(root, nil); err != nil {
		t.Fatal(err)
	}
	return root
}

type result struct {
	out, errOut string
	code        int
}

func runAs(t *testing.T, bin, root, name, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(os.Environ(), "VXWAY_ROOT="+root)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), code}
}

func serialOf(t *testing.T, bin, root string) string {
	t.Helper()
	r := runAs(t, bin, root, "xstatus", "", "SystemUnit", "Hardware", "SerialNumber")
	m := regexp.MustCompile(`\*s SystemUnit Hardware SerialNumber: "([0-9A-F]{8})"`).FindStringSubmatch(r.out)
	if r.code != 0 || m == nil {
		t.Fatalf("no serial in:\n%s", r.out)
	}
	return m[1]
}

func TestOneShotStatusAndPasswd(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "Expressway")

	r := runAs(t, bin, root, "xstatus", "", "SystemUnit")
	for _, want := range []string{`*s SystemUnit ProductBrand: "Expressway"`, `*s SystemUnit ProductType: "Expressway-C"`,
		`*s SystemUnit Software Version: "X14.2.0"`, "*s SystemUnit Uptime: 86461\n", `*s SystemUnit Hostname: "expe01"`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("xstatus SystemUnit lacks %q:\n%s", want, r.out)
		}
	}
	if r.code != 0 || !strings.HasSuffix(r.out, "\nOK\n") {
		t.Errorf("exit %d, output:\n%s", r.code, r.out)
	}

	r = runAs(t, bin, root, "xstatus", "", "Alarm")
	if !strings.Contains(r.out, "*s Alarm 1 Id: 40003\n") || !strings.Contains(r.out, "*s Alarm 2 Id: 40005\n") {
		t.Fatalf("default password alarms missing:\n%s", r.out)
	}

	r = runAs(t, bin, root, "xstatus", "", "NoSuchThing")
	if r.code != 1 || !strings.Contains(r.out, "*r Reason:") || !strings.HasSuffix(r.out, "ERROR\n") {
		t.Errorf("unknown path: exit %d\n%s", r.code, r.out)
	}

	// Mismatched entries change nothing.
	r = runAs(t, bin, root, "passwd", "first-pass1\nother-pass2\n", "root")
	if r.code != 1 || !strings.Contains(r.errOut, "do not match") {
		t.Errorf("mismatch: exit %d, stderr %q", r.code, r.errOut)
	}
	r = runAs(t, bin, root, "passwd", "short\nshort\n", "admin")
	if r.code != 1 || !strings.Contains(r.errOut, "at least 8") {
		t.Errorf("short password: exit %d, stderr %q", r.code, r.errOut)
	}
	r = runAs(t, bin, root, "passwd", "x\nx\n", "operator")
	if r.code != 1 || !strings.Contains(r.errOut, "root and admin") {
		t.Errorf("unknown user: exit %d, stderr %q", r.code, r.errOut)
	}
	if r := runAs(t, bin, root, "xstatus", "", "Alarm"); !strings.Contains(r.out, "Id: 40003") {
		t.Fatalf("a failed passwd cleared 40003:\n%s", r.out)
	}

	r = runAs(t, bin, root, "passwd", "Str0ng-root\nStr0ng-root\n")
	if r.code != 0 || !strings.Contains(r.out, "password for root changed") {
		t.Fatalf("passwd: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	r = runAs(t, bin, root, "xstatus", "", "Alarm")
	if strings.Contains(r.out, "40003") || !strings.Contains(r.out, "*s Alarm 1 Id: 40005\n") {
		t.Errorf("after passwd root:\n%s", r.out)
	}
	if err := platform.NewUsers(root, nil).Check("root", "Str0ng-root"); err != nil {
		t.Errorf("new root password does not log in: %v", err)
	}
	r = runAs(t, bin, root, "passwd", "Adm1n-pass\nAdm1n-pass\n", "admin")
	if r.code != 0 {
		t.Fatalf("passwd admin: %s", r.errOut)
	}
	if r := runAs(t, bin, root, "xstatus", "", "Alarm"); r.out != "OK\n" {
		t.Errorf("alarms after both passwords changed:\n%s", r.out)
	}

	// The multi-call name works too.
	if r := runAs(t, bin, root, "xcli", "", "xstatus", "SystemUnit", "ProductBrand"); r.out != "*s SystemUnit ProductBrand: \"Expressway\"\nOK\n" {
		t.Errorf("xcli xstatus: %q", r.out)
	}
}

func TestServiceSelectAndOptionKeys(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "VCS")
	serial := serialOf(t, bin, root)

	sign := func(serial, option string, count int) string {
		k, err := testVendor().Sign(serial, option, count)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	interop := sign(serial, "MSInterop", 0)
	rms := sign(serial, "RichMediaSessions", 100)

	steps := []struct {
		name string
		verb string
		args []string
		code int
		want string
	}{
		{"foreign serial", "xcommand", []string{"OptionKey", "Add", "Key:", sign("0B070519", "HSM", 0)}, 1, "issued for serial 0B070519 and this device is " + serial},
		{"bad signature", "xcommand", []string{"OptionKey", "Add", "Key:", interop[:20] + "AAAAAAAA" + interop[28:]}, 1, "invalid option key"},
		{"add interop", "xcommand", []string{"OptionKey", "Add", "Key:", interop}, 0, `*r OptionKeyAddResult Option: "MSInterop"`},
		{"add rms unquoted", "xcommand", []string{"OptionKey", "Add", rms}, 0, `*r OptionKeyAddResult Count: "100"`},
		{"add twice", "xcommand", []string{"OptionKey", "Add", "Key:", rms}, 1, "already installed"},
		{"list", "xstatus", []string{"OptionKey"}, 0, "*s OptionKey 2 Count: 100\n"},
		{"aas unavailable", "xstatus", []string{"OptionKey", "Feature", "AdvancedAccountSecurity"}, 0, `"Unavailable: needs the Advanced Account Security option key"`},
		{"type", "xconfiguration", []string{"SystemUnit", "ServiceSelect", "Type:", "Expressway-E"}, 0, "*c xConfiguration SystemUnit ServiceSelect Type: Expressway-E\nOK\n"},
		{"bad brand", "xconfiguration", []string{"SystemUnit", "ServiceSelect", "Brand:", "Tandberg"}, 1, "use Expressway or VCS"},
		{"convert", "xconfiguration", []string{"SystemUnit", "ServiceSelect", "Brand:", "Expressway"}, 0, "*r SmartLicensing: \"On\""},
		{"status after convert", "xstatus", []string{"SystemUnit"}, 0, `*s SystemUnit Licensing: "Smart Licensing"`},
		{"add refused on expressway", "xcommand", []string{"OptionKey", "Add", "Key:", sign(serial, "HSM", 0)}, 1, "option keys cannot be changed on Expressway"},
		{"interop kept", "xstatus", []string{"OptionKey", "1"}, 0, `*s OptionKey 1 Status: "Active"`},
		{"rms inactive", "xstatus", []string{"OptionKey", "2", "Status"}, 0, `Inactive: Smart Licensing does not use option keys`},
		{"back to vcs refused", "xconfiguration", []string{"SystemUnit", "ServiceSelect", "Brand:", "VCS"}, 1, "factory reset"},
		{"still expressway", "xconfiguration", []string{"SystemUnit", "ServiceSelect", "Brand"}, 0, "*c xConfiguration SystemUnit ServiceSelect Brand: Expressway\nOK\n"},
	}
	for _, s := range steps {
		r := runAs(t, bin, root, s.verb, "", s.args...)
		if r.code != s.code || !strings.Contains(r.out, s.want) {
			t.Errorf("%s: %s %s\nexit %d (want %d), output:\n%s\nwant %q", s.name, s.verb, strings.Join(s.args, " "), r.code, s.code, r.out, s.want)
		}
	}
	if sl, err := platform.SmartLicensingEnabled(root); err != nil || !sl {
		t.Errorf("SmartLicensingEnabled = %v, %v", sl, err)
	}
}

func TestInteractiveShell(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "VCS")
	input := strings.Join([]string{
		"",
		"help",
		"xstatus SystemUnit ProductBrand",
		`xconfiguration SystemUnit Hostname: "bad name"`,
		"frobnicate",
		`xstatus SystemUnit Software "unterminated`,
		"XSTATUS systemunit producttype",
		"xconfiguration SystemUnit Hostname: vcs-lab",
		"exit",
		"xstatus SystemUnit",
	}, "\n") + "\n"
	r := runAs(t, bin, root, "xshell", input, "--prompt")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	for _, want := range []string{
		"xshell> Commands",
		"xshell> *s SystemUnit ProductBrand: \"VCS\"\nOK\n",
		"letters, digits and inner hyphens only\"\nERROR\n",
		"unknown command \\\"frobnicate\\\"",
		"a double quote is not closed",
		"*s SystemUnit ProductType: \"Expressway-C\"\nOK\n",
		"*c xConfiguration SystemUnit Hostname: vcs-lab\nOK\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("session lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "*s SystemUnit Hostname") {
		t.Errorf("the shell went on after exit:\n%s", r.out)
	}

	// End of input (Ctrl-D) without exit ends the session cleanly, and
	// piped input gets no prompt.
	r = runAs(t, bin, root, "xshell", "xstatus SystemUnit Hostname")
	if r.code != 0 || r.out != "*s SystemUnit Hostname: \"vcs-lab\"\nOK\n" {
		t.Errorf("EOF session: exit %d %q", r.code, r.out)
	}
	// A piped script with a failed request exits 1, after answering all.
	r = runAs(t, bin, root, "xshell", "xstatus Nope\nxstatus SystemUnit ProductBrand\n")
	if r.code != 1 || !strings.HasSuffix(r.out, "*s SystemUnit ProductBrand: \"VCS\"\nOK\n") {
		t.Errorf("failing script: exit %d %q", r.code, r.out)
	}
}

// TestLoginShellName runs xshell the way login starts a login shell, as
// "-xshell", with the ssh command on standard input.
func TestLoginShellName(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "VCS")
	cmd := exec.Command(filepath.Join(bin, "xshell"))
	cmd.Args[0] = "-xshell"
	cmd.Env = append(os.Environ(), "VXWAY_ROOT="+root)
	cmd.Stdin = strings.NewReader("xstatus SystemUnit ProductBrand\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "*s SystemUnit ProductBrand: \"VCS\"\nOK\n" {
		t.Errorf("-xshell: %v %q", err, out)
	}
}

// TestConversionStartsAgent converts a VCS to Expressway with the real
// licensing agent running on the device's socket: the agent must turn Smart
// Licensing on at once, not when it next looks.
func TestConversionStartsAgent(t *testing.T) {
	bin := buildXCLI(t)
	root := device(t, "VCS")
	agentCmd := exec.Command(filepath.Join(bin, "smartagent"), "--root", root)
	var agentLog bytes.Buffer
	agentCmd.Stdout, agentCmd.Stderr = &agentLog, &agentLog
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		agentCmd.Process.Kill()
		agentCmd.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", agentLog.String())
		}
	}()
	sock := filepath.Join(root, "run/vxway/smartagent.sock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent never opened its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	state := filepath.Join(root, "data/licensing/state.json")
	if b, err := os.ReadFile(state); err == nil && strings.Contains(string(b), `"enabled": true`) {
		t.Fatalf("Smart Licensing on before the conversion:\n%s", b)
	}

	// A VCS cannot turn Smart Licensing on by itself: the answer names
	// Service Select, and no evaluation starts.
	r := runAs(t, bin, root, "xconfiguration", "", "License", "Smart", "Enabled:", "On")
	if r.code != 1 || !strings.Contains(r.out, "xconfiguration SystemUnit ServiceSelect Brand: Expressway") {
		t.Errorf("Enabled: On on a VCS: exit %d\n%s", r.code, r.out)
	}
	if _, err := os.Stat(filepath.Join(root, "persist/licensing/anchor.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused Enabled: On touched the evaluation anchor: %v", err)
	}
	if r := runAs(t, bin, root, "xstatus", "", "License", "Smart", "Enabled"); !strings.Contains(r.out, `Enabled: "Off"`) {
		t.Errorf("after the refusal:\n%s", r.out)
	}

	r = runAs(t, bin, root, "xconfiguration", "", "SystemUnit", "ServiceSelect", "Brand:", "Expressway")
	if r.code != 0 || strings.Contains(r.out, "Warning") || !strings.Contains(r.out, `*r SmartLicensing: "On"`) {
		t.Fatalf("conversion: exit %d\n%s", r.code, r.out)
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), `"enabled": true`) {
		t.Errorf("the agent did not turn Smart Licensing on (%v):\n%s", err, b)
	}
}
