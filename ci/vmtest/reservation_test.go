package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vxway/image"
)

// reservationManager is the ssm admin CLI on the host, run against its own
// data directory. License reservation needs no connection: the codes are
// carried by hand between the device's console and the manager.
type reservationManager struct {
	bin, data string
	// caPEM is the manager CA, the key that signs authorization codes,
	// named for the build config's trusted_ca_files (.pem only).
	caPEM string
}

func newReservationManager(t *testing.T) *reservationManager {
	t.Helper()
	mod, err := image.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &reservationManager{bin: filepath.Join(dir, "ssm"), data: filepath.Join(dir, "data"), caPEM: filepath.Join(dir, "reservation-ca.pem")}
	build := exec.Command("go", "build", "-o", m.bin, "./cmd/ssm")
	build.Dir = mod
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ssm: %v\n%s", err, out)
	}
	m.run(t, "init", "--san", "localhost")
	ca, err := os.ReadFile(filepath.Join(m.data, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.caPEM, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *reservationManager) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(m.bin, append([]string{"--data", m.data}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// resultValue reads `*r <path>: "<value>"` or `*s <path>: "<value>"`;
// the shell's prompt may precede the first line.
func resultValue(out, kind, path string) (string, bool) {
	m := regexp.MustCompile(`(?m)(?:^|> )\*` + kind + ` ` + regexp.QuoteMeta(path) + `: "?(.*?)"?\r?$`).FindStringSubmatch(out)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// TestReservationHardEnforcement reserves rms licenses with an SLR code
// whose last day is three days ahead, uses them, powers off and boots
// again with the clock after that day: the agent judges the reservation
// at start, refuses the expired type and raises alarm 30037. Two boots.
func TestReservationHardEnforcement(t *testing.T) {
	mgr := newReservationManager(t)
	mgr.run(t, "account", "create", "Acme")
	mgr.run(t, "va", "create", "--account", "Acme", "Sales")
	mgr.run(t, "license", "add", "--va", "Sales", "--type", "rms", "--count", "10")

	img := Image(t, WithTrustedCA(mgr.caPEM))
	now := time.Now().UTC()
	lastDay := now.AddDate(0, 0, 3)
	v := Boot(t, img, RTCBase(now.Format("2006-01-02T15:04:05")))
	v.WaitReady(t)

	v.Login(t, "admin", DefaultAdminPassword)
	if out := v.XAPI(t, "xconfiguration License Smart ReservationEnable: On"); !strings.HasSuffix(out, "OK\n") {
		t.Fatalf("reservation enable:\n%s", out)
	}
	out := v.XAPI(t, "xcommand License Smart Reservation Request")
	req, ok := resultValue(out, "r", "License Smart Reservation RequestCode")
	if !ok || !strings.HasPrefix(req, "CB-PExpressway,S") {
		t.Fatalf("request:\n%s", out)
	}
	if msg, _ := resultValue(out, "r", "License Smart Reservation Message"); msg != "Enter the following reservation request code into the CSSM:" {
		t.Errorf("request: message %q, want the vendor document's sentence:\n%s", msg, out)
	}

	code := strings.TrimSpace(mgr.run(t, "reservation", "authorize", "--va", "Sales", "--request", req,
		"--license", "rms=5", "--end", lastDay.Format(time.DateOnly)))
	code = code[strings.LastIndex(code, "\n")+1:]
	if !strings.HasPrefix(code, "<specificPLR>") {
		t.Fatalf("ssm reservation authorize printed %q last", code)
	}
	out = v.XAPI(t, fmt.Sprintf("xcommand License Smart Reservation Install %q", code))
	conf, ok := resultValue(out, "r", "License Smart Reservation ConfirmationCode")
	if !ok || !strings.HasSuffix(out, "OK\n") {
		t.Fatalf("install:\n%s", out)
	}
	if st, _ := resultValue(out, "r", "License Smart Reservation Status"); st != "Authorization code installed." {
		t.Errorf("install: status %q, want the vendor document's sentence:\n%s", st, out)
	}
	mgr.run(t, "reservation", "confirm", "--va", "Sales", "--code", conf)
	if list := mgr.run(t, "license", "list", "--va", "Sales"); !regexp.MustCompile(`(?m)^rms\s+[A-Za-z ]+?\s+10\s+0\s+5\s+5\s*$`).MatchString(list) {
		t.Errorf("pool after the reservation, want rms 10 purchased, 5 reserved:\n%s", list)
	}

	// Before the end: the license works.
	if out := v.XAPI(t, "xcommand License Smart Usage Set Type: rms Count: 2"); !strings.HasSuffix(out, "OK\n") {
		t.Errorf("usage within the reservation refused:\n%s", out)
	}
	st := v.XAPI(t, "xstatus License Smart")
	for path, want := range map[string]string{
		"License Smart Registration Status":               "Registered - Specific License Reservation",
		"License Smart Reservation Status":                "Reserved",
		"License Smart Reservation Kind":                  "SLR",
		"License Smart Reservation License 1 Type":        "rms",
		"License Smart Reservation License 1 EndDate":     lastDay.Format(time.DateOnly),
		"License Smart Reservation License 1 Status":      "Active",
		"License Smart Usage 1 Status":                    "Reserved",
		"License Smart Reservation License 1 LicenseType": "TERM",
	} {
		if got, _ := resultValue(st, "s", path); got != want {
			t.Errorf("before the end: %s %q, want %q", path, got, want)
		}
	}
	if alarms := v.XAPI(t, "xstatus Alarm"); strings.Contains(alarms, "30037") {
		t.Errorf("alarm 30037 before the end:\n%s", alarms)
	}
	v.Logout(t)
	v.Login(t, "root", DefaultRootPassword)
	v.PowerOff(t)

	// Second boot, two days after the last day.
	v.opts.RTCBase = lastDay.AddDate(0, 0, 2).Format("2006-01-02T15:04:05")
	v.Start(t)
	v.WaitReady(t)
	v.Login(t, "admin", DefaultAdminPassword)
	out = v.XAPI(t, "xcommand License Smart Usage Set Type: rms Count: 3")
	if !strings.HasSuffix(out, "ERROR\n") || !strings.Contains(out, "expired") {
		t.Errorf("usage of the expired type after the restart:\n%s", out)
	}
	st = v.XAPI(t, "xstatus License Smart")
	for path, want := range map[string]string{
		"License Smart Reservation License 1 Status": "Expired",
		"License Smart Usage 1 Status":               "Reservation Expired",
	} {
		if got, _ := resultValue(st, "s", path); got != want {
			t.Errorf("after the restart: %s %q, want %q", path, got, want)
		}
	}
	alarms := v.XAPI(t, "xstatus Alarm")
	if !regexp.MustCompile(`(?m)\*s Alarm \d+ Id: 30037\r?$`).MatchString(alarms) {
		t.Errorf("alarm 30037 not raised after the restart:\n%s", alarms)
	}
	v.Logout(t)
}
