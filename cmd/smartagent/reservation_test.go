package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vxway/agent"
	"vxway/agentclient"
	"vxway/reservation"
	"vxway/xapi"
)

// License reservation through the real CLIs: the device's admin CLI (xcli
// against a running smartagent) and the manager's ssm commands, with the
// pool counts of `ssm license list` checked after each step.

const (
	resSerial = "08F8FF3C"
	resHostID = "320aa69d"
)

// newReservationDevice is a device with a fixed platform identity.
func newReservationDevice(t *testing.T, m *manager) *device {
	t.Helper()
	d := newDevice(t, filepath.Join(m.data, "ca.crt"), "https://127.0.0.1:1/unused")
	mustWrite(t, filepath.Join(d.root, "persist/identity.json"),
		fmt.Appendf(nil, `{"serial":%q,"host_id":%q,"source":"random","derived":"2026-01-01T00:00:00Z"}`, resSerial, resHostID))
	return d
}

// resultLine reads one `*r License Smart Reservation <leaf>` value.
func resultLine(t *testing.T, out, leaf string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\*r License Smart Reservation ` + leaf + `: "?(.*?)"?$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in:\n%s", leaf, out)
	}
	return m[1]
}

// codeAfter returns the code of leaf in a reservation answer and checks
// that the line just before it is the vendor document's sentence.
func codeAfter(t *testing.T, out, sentence, leaf string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\*r License Smart Reservation Message: "` + regexp.QuoteMeta(sentence) + `"\n\*r License Smart Reservation ` + leaf + `: "?(.*?)"?$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line before the %s in:\n%s", sentence, leaf, out)
	}
	return m[1]
}

// installedLine is the first line of a successful Install, as the vendor
// document prints it.
const installedLine = `*r License Smart Reservation Status: "Authorization code installed."`

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// pool checks one type's purchased, in use, reserved and available counts.
func (m *manager) pool(va, typ string, want ...int) {
	m.t.Helper()
	out := m.ok("license", "list", "--va", va)
	re := typ + `\s+[A-Za-z ]+?`
	for _, n := range want {
		re += fmt.Sprintf(`\s+%d`, n)
	}
	if !regexp.MustCompile(`(?m)^` + re + `\s*$`).MatchString(out) {
		m.t.Errorf("license list --va %s: want %s %v (purchased, in use, reserved, available):\n%s", va, typ, want, out)
	}
}

// authorize runs ssm reservation authorize and returns the code (its last
// output line).
func (m *manager) authorize(va, request string, args ...string) string {
	m.t.Helper()
	return lastLine(m.ok(append([]string{"reservation", "authorize", "--va", va, "--request", request}, args...)...))
}

// fails runs an ssm command expecting it to fail and returns its output.
func (m *manager) fails(args ...string) string {
	m.t.Helper()
	out, err := exec.Command(m.bin, append([]string{"--data", m.data}, args...)...).CombinedOutput()
	if err == nil {
		m.t.Errorf("ssm %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

func mustHex32(t *testing.T, s string) uint32 {
	t.Helper()
	var v uint32
	if _, err := fmt.Sscanf(s, "%08x", &v); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

func (d *device) state() []byte {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.root, "data/licensing/state.json"))
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

// refused runs line expecting ERROR saying want, with the state file
// unchanged byte for byte.
func (d *device) refused(line, want string) {
	d.t.Helper()
	before := d.state()
	out := d.fails(line, want)
	d.t.Logf("%.60s... -> %s", line, strings.TrimSpace(out))
	if after := d.state(); !bytes.Equal(before, after) {
		d.t.Errorf("%.80s...: refused but the state changed:\n%s\n->\n%s", line, before, after)
	}
}

// shell feeds input to the interactive admin shell and returns its output.
func (d *device) shell(input string) string {
	d.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "xcli"), "xshell")
	cmd.Env = append(os.Environ(), "VXWAY_ROOT="+d.root)
	cmd.Stdin = strings.NewReader(input)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func quoted(code string) string { return `"` + code + `"` }

func TestReservationSLR(t *testing.T) {
	m := newManager(t, "onprem")
	m.ok("license", "add", "--va", "Sales", "--type", "room", "--count", "4")
	d := newReservationDevice(t, m)
	udi := reservation.UDI{PID: "Expressway", SN: resSerial, VID: "1.0"}

	d.fails("xcommand License Smart Reservation Request", "ReservationEnable: On")
	d.ok("xconfiguration License Smart ReservationEnable: On")
	if out := d.ok("xconfiguration License Smart"); !strings.Contains(out, `ReservationEnable: On`) {
		t.Errorf("xconfiguration does not show reservation on:\n%s", out)
	}
	d.fails(`xcommand License Smart Register Token: "`+m.token("--va", "Sales")+`"`, "ReservationEnable: Off")
	req := codeAfter(t, d.ok("xcommand License Smart Reservation Request"), "Enter the following reservation request code into the CSSM:", "RequestCode")
	if !strings.HasPrefix(req, "CB-PExpressway,S"+resSerial+",V1.0,H"+resHostID+"-A") {
		t.Fatalf("request code %q", req)
	}
	if again := resultLine(t, d.ok("xcommand License Smart Reservation Request"), "RequestCode"); again != req {
		t.Errorf("second Request made a new code: %s then %s", req, again)
	}
	if got := d.status("Reservation Status"); got != agentclient.ResRequested {
		t.Errorf("reservation status %q", got)
	}
	if got := d.status("Reservation RequestCode"); got != req {
		t.Errorf("status request code %q", got)
	}
	d.ok("xcommand License Smart Usage Set Type: rms Count: 1") // evaluation still allows it
	m.pool("Sales", "rms", 5, 0, 0, 5)

	end := time.Now().UTC().AddDate(1, 0, 0).Format(time.DateOnly)
	code1 := m.authorize("Sales", req, "--license", "rms=3,room=2", "--end", end)
	m.pool("Sales", "rms", 5, 0, 3, 2)
	m.pool("Sales", "room", 4, 0, 2, 2)

	// Refusals, each clear and changing nothing.
	refusals(t, d, m, udi, req, code1)

	out := d.ok("xcommand License Smart Reservation Install " + quoted(code1))
	conf1 := codeAfter(t, out, "Please enter the confirmation code to CSSM account:", "ConfirmationCode")
	if !strings.HasPrefix(out, installedLine+"\n") || resultLine(t, out, "Kind") != "SLR" || !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(conf1) {
		t.Fatalf("install:\n%s", out)
	}
	for leaf, want := range map[string]string{
		"Registration Status": agentclient.RegReservedSLR, "Authorization Status": agentclient.AuthReserved,
		"Reservation Status": agentclient.ResReserved, "Reservation Kind": "SLR", "Reservation ExportControl": "Not Allowed",
		"Reservation License 1 Type": "rms", "Reservation License 1 Count": "3", "Reservation License 1 LicenseType": "TERM",
		"Reservation License 1 EndDate": end, "Reservation License 1 Status": "Active",
		"Reservation License 2 Type": "room", "Reservation License 2 Count": "2",
	} {
		if got := d.status(leaf); got != want {
			t.Errorf("after install: %s %q, want %q", leaf, got, want)
		}
	}
	if d.alarm(agent.AlarmEvaluation) {
		t.Error("evaluation alarm still raised under a reservation")
	}
	// Usage is checked against the reserved counts, not reported.
	d.ok("xcommand License Smart Usage Set Type: rms Count: 3")
	d.refused("xcommand License Smart Usage Set Type: rms Count: 4", "3 rms licenses are reserved")
	d.refused("xcommand License Smart Usage Set Type: desktop Count: 1", "0 desktop licenses are reserved")
	d.ok("xcommand License Smart Usage Set Type: room Count: 2")
	d.fails("xcommand License Smart UpdateUsage", "not registered")
	m.pool("Sales", "rms", 5, 0, 3, 2)

	forged := fmt.Sprintf("%08x", ^uint32(0)^mustHex32(t, conf1))
	if out := m.fails("reservation", "confirm", "--va", "Sales", "--code", forged); !strings.Contains(out, "not the confirmation code") {
		t.Errorf("forged confirmation code: %s", out)
	}
	m.ok("reservation", "confirm", "--va", "Sales", "--code", conf1)
	m.pool("Sales", "rms", 5, 0, 3, 2)

	// Update: more rms, no room; in transit the pool keeps the larger count.
	code2 := m.authorize("Sales", req, "--license", "rms=5")
	m.pool("Sales", "rms", 5, 0, 5, 0)
	m.pool("Sales", "room", 4, 0, 2, 2)
	out = d.ok("xcommand License Smart Reservation Install " + quoted(code2))
	conf2 := resultLine(t, out, "ConfirmationCode")
	if resultLine(t, out, "Updated") != "Yes" || conf2 == conf1 {
		t.Errorf("update:\n%s", out)
	}
	if got := d.status("Reservation License 1 LicenseType"); got != "PERPETUAL" {
		t.Errorf("after update: %q", got)
	}
	d.ok("xcommand License Smart Usage Set Type: rms Count: 5")
	d.refused("xcommand License Smart Usage Set Type: room Count: 3", "0 room licenses are reserved")
	m.ok("reservation", "confirm", "--va", "Sales", "--code", conf2)
	m.pool("Sales", "rms", 5, 0, 5, 0)
	m.pool("Sales", "room", 4, 0, 0, 4)
	d.refused("xcommand License Smart Reservation Install "+quoted(code1), "not newer")

	// Restart: the reservation is verified and judged again.
	d.stop()
	d.start()
	if got := d.status("Reservation License 1 Count"); got != "5" {
		t.Errorf("after restart: rms count %q", got)
	}
	d.refused("xconfiguration License Smart ReservationEnable: Off", "Reservation Return")

	// Return: the licenses go back to the pool; the code is dead.
	ret := codeAfter(t, d.ok("xcommand License Smart Reservation Return"), "Enter the following return code into the CSSM:", "ReturnCode")
	if got := d.status("Reservation Status"); got != agentclient.ResNone {
		t.Errorf("after return: %q", got)
	}
	d.refused("xcommand License Smart Reservation Install "+quoted(code2), "returned")
	d.refused("xcommand License Smart Reservation Return", "never installed")
	m.fails("reservation", "return", "--va", "Sales", "--code", ret[:len(ret)-1]+"x")
	m.pool("Sales", "rms", 5, 0, 5, 0)
	m.ok("reservation", "return", "--va", "Sales", "--code", ret)
	m.pool("Sales", "rms", 5, 0, 0, 5)
	m.pool("Sales", "room", 4, 0, 0, 4)
	d.ok("xconfiguration License Smart ReservationEnable: Off")
	if got := d.status("Reservation Mode"); got != "Off" {
		t.Errorf("reservation mode %q", got)
	}
}

// refusals offers the device codes it must refuse while request req is
// in progress; code is a valid SLR code for it.
func refusals(t *testing.T, d *device, m *manager, udi reservation.UDI, req, code string) {
	t.Helper()
	rc, err := reservation.ParseRequestCode(req)
	if err != nil {
		t.Fatal(err)
	}
	// A code signed by a key the device does not trust.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := reservation.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := rogue.IssueSLR(rc, true, time.Now(), []reservation.Entitlement{reservation.RMS.Entitlement(1000, time.Time{}, time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	forgedPLR, err := rogue.IssuePLR(rc, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Codes the real manager made for another device and another request.
	otherUDI := reservation.UDI{PID: "Expressway", SN: "0000AAAA", VID: "1.0"}
	otherDev, err := reservation.NewRequest(otherUDI, "0a0b0c0d", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherReq, err := reservation.NewRequest(udi, resHostID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forOtherDev := m.authorize("Support", otherDev.Code.String(), "--license", "rms=1")
	forOtherReq := m.authorize("Support", otherReq.Code.String(), "--license", "rms=1")
	install := "xcommand License Smart Reservation Install "
	altered := strings.Replace(code, "<count>3</count>", "<count>4</count>", 1)
	if altered == code {
		t.Fatal("test code holds no <count>3</count>")
	}
	deep := "<specificPLR>" + strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200) + "</specificPLR>"
	for _, tc := range []struct{ name, line, want string }{
		{"altered count", install + quoted(altered), "signature does not verify"},
		{"altered udi", install + quoted(strings.Replace(code, "UDI_SN:"+resSerial, "UDI_SN:08F8FF3D", 1)), "another device"},
		{"altered name", install + quoted(strings.Replace(code, "Session License", "Session Licence", 1)), "signature does not verify"},
		{"untrusted signer SLR", install + quoted(forged.Text), "signature does not verify"},
		{"untrusted signer PLR", install + forgedPLR.Text, "signature does not verify"},
		{"another device", install + quoted(forOtherDev), "another device"},
		{"another request", install + quoted(forOtherReq), "another reservation request"},
		{"doctype", install + quoted(`<!DOCTYPE specificPLR [<!ENTITY x 'y'>]>`+code), "DOCTYPE"},
		{"external entity", install + quoted(`<!DOCTYPE specificPLR SYSTEM 'file:///etc/passwd'><specificPLR>&x;</specificPLR>`), "DOCTYPE"},
		{"entity expansion", install + quoted(`<!ENTITY a 'aaaaaaaaaa'><specificPLR>&a;&a;&a;</specificPLR>`), "ENTITY"},
		{"deep nesting", install + quoted(deep), "deeper than"},
		{"missing quotes", install + code, "put the code in double quotes"},
		{"missing code", strings.TrimSpace(install), "code is missing"},
		{"bad check characters", install + "CA11do-VKcqvB-2QiuqZ-J1D3Kq-xtihDs-fr9oGT-6b4uPg-c38MDa-zrDZqe-VeFwTq-gMDhxG-H2cti2-BZCWJA-v9ATEX-K1XyaT-1B7d6H-VimXXm-oW4Mkg-ccCQHV", "mistyped"},
		{"return authorization of a foreign code", "xcommand License Smart Reservation ReturnAuthorization " + quoted(forOtherDev), "another device"},
		{"return without an installed code", "xcommand License Smart Reservation Return", "never installed"},
	} {
		t.Run(tc.name, func(t *testing.T) { d.refused(tc.line, tc.want) })
	}
	// Over the longest xAPI line: refused by the CLI with the limit named.
	before := d.state()
	cmd := exec.Command(filepath.Join(binDir, "xcli"), "xcommand", "License", "Smart", "Reservation", "Install", strings.Repeat("<a>", 100<<10/3))
	cmd.Env = append(os.Environ(), "VXWAY_ROOT="+d.root)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), fmt.Sprintf("the limit is %d", xapi.MaxLineBytes)) {
		t.Errorf("100 KB code as an argument: %v\n%.300s", err, out)
	}
	if !bytes.Equal(before, d.state()) {
		t.Error("100 KB code changed the state")
	}
	shellOut := d.shell(install + quoted(strings.Repeat("<a>", 10<<20/3)) + "\nxstatus License Smart Reservation Status\n")
	if !strings.Contains(shellOut, fmt.Sprintf("line longer than %d bytes ignored", xapi.MaxLineBytes)) || !strings.Contains(shellOut, "Request Pending") {
		t.Errorf("10 MB line in the admin shell:\n%.2000s", shellOut)
	}
	if !bytes.Equal(before, d.state()) {
		t.Error("10 MB line changed the state")
	}
	// The foreign codes go back to the pool on the manager's side only by
	// their own devices; drop them here so the counts stay readable.
	for _, r := range []*reservation.Request{otherDev, otherReq} {
		var s reservation.State
		s.Pending = r
		keys := trustedKeySet(t, m)
		c := forOtherDev
		u := otherUDI
		if r == otherReq {
			c, u = forOtherReq, udi
		}
		ret, err := s.ReturnAuthorization(keys, u, c)
		if err != nil {
			t.Fatal(err)
		}
		m.ok("reservation", "return", "--va", "Support", "--code", ret)
	}
	m.pool("Support", "rms", 5, 0, 0, 5)
}

func trustedKeySet(t *testing.T, m *manager) reservation.KeySet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.data, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := reservation.ParseKeySetPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestReservationPLRAndCancel(t *testing.T) {
	m := newManager(t, "onprem")
	m.ok("license", "add", "--va", "Sales", "--type", "plr", "--count", "1")
	m.ok("license", "add", "--va", "Sales", "--type", "plr-ec", "--count", "1")
	d := newReservationDevice(t, m)
	d.ok("xconfiguration License Smart ReservationEnable: On")

	// Cancel before installing, then give the uninstalled code back.
	req1 := resultLine(t, d.ok("xcommand License Smart Reservation Request"), "RequestCode")
	unused := m.authorize("Sales", req1, "--plr")
	m.pool("Sales", "plr", 1, 0, 1, 0)
	d.ok("xcommand License Smart Reservation Cancel")
	d.refused("xcommand License Smart Reservation Cancel", "nothing to cancel")
	d.refused("xcommand License Smart Reservation Install "+unused, "cancelled")
	req2 := resultLine(t, d.ok("xcommand License Smart Reservation Request"), "RequestCode")
	if req2 == req1 {
		t.Fatal("a cancelled request's code was shown again")
	}
	ret := codeAfter(t, d.ok("xcommand License Smart Reservation ReturnAuthorization "+unused), "Enter the following return code into the CSSM:", "ReturnCode")
	d.refused("xcommand License Smart Reservation ReturnAuthorization "+unused, "returned already")
	m.ok("reservation", "return", "--va", "Sales", "--code", ret)
	m.pool("Sales", "plr", 1, 0, 0, 1)

	// PLR over evaluation, typed without quotes (the seed's form), then a
	// second PLR code with export control on top.
	code := m.authorize("Sales", req2, "--plr")
	m.pool("Sales", "plr", 1, 0, 1, 0)
	out := d.ok("xcommand License Smart Reservation Install " + code)
	if !strings.HasPrefix(out, installedLine+"\n") || resultLine(t, out, "Kind") != "PLR" || strings.Contains(out, "ConfirmationCode") || strings.Contains(out, "confirmation code") {
		t.Errorf("PLR install:\n%s", out)
	}
	for leaf, want := range map[string]string{
		"Registration Status": agentclient.RegReservedPLR, "Reservation Kind": "PLR", "Reservation ExportControl": "Not Allowed",
		"Reservation License 1 Count": "2500", "Reservation License 1 LicenseType": "CAPACITY",
	} {
		if got := d.status(leaf); got != want {
			t.Errorf("PLR: %s %q, want %q", leaf, got, want)
		}
	}
	d.ok("xcommand License Smart Usage Set Type: desktop Count: 5000")
	d.refused("xcommand License Smart Usage Set Type: rms Count: 2501", "capacity is 2500")
	code2 := m.authorize("Sales", req2, "--plr", "--export-control")
	m.pool("Sales", "plr-ec", 1, 0, 1, 0)
	d.ok("xcommand License Smart Reservation Install " + quoted(code2))
	if got := d.status("Reservation ExportControl"); got != "Allowed" {
		t.Errorf("after the export-control PLR code: %q", got)
	}
	d.refused("xcommand License Smart Reservation Install "+code, "already installed")

	ret = resultLine(t, d.ok("xcommand License Smart Reservation Return"), "ReturnCode")
	m.ok("reservation", "return", "--va", "Sales", "--code", ret)
	m.pool("Sales", "plr", 1, 0, 0, 1)
	m.pool("Sales", "plr-ec", 1, 0, 0, 1)
	d.refused("xcommand License Smart Reservation Install "+code2, "returned")
}
