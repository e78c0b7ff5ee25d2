package vmtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vxway/testsupport"
)

// sipp drives SIPp from the host against the guest's forwarded SIP
// ports.
type sipp struct {
	t         *testing.T
	bin       string
	scenarios string
	udp       string // 127.0.0.1:P
	tls       string // a TCP-to-TLS bridge to 127.0.0.1:P+1
}

func newSIPp(t *testing.T, port int) *sipp {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sipp is missing: install Debian's sip-tester (ci/host-deps.sh)")
		}
		t.Skip("sipp is missing: install Debian's sip-tester (ci/host-deps.sh)")
	}
	abs, err := filepath.Abs("../sipp")
	if err != nil {
		t.Fatal(err)
	}
	return &sipp{t: t, bin: bin, scenarios: abs, udp: fmt.Sprintf("127.0.0.1:%d", port),
		tls: testsupport.TLSBridge(t, fmt.Sprintf("127.0.0.1:%d", port+1))}
}

// run runs scenario for the injection lines over "udp" or "tls" and
// reports how many calls succeeded, with SIPp's output.
func (s *sipp) run(scenario, transport string, lines []string, extra ...string) (int, string) {
	s.t.Helper()
	dir := s.t.TempDir()
	inf := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(inf, []byte("SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
	addr, tp := s.udp, "u1"
	if transport == "tls" {
		addr, tp = s.tls, "t1"
	}
	args := append([]string{addr, "-sf", filepath.Join(s.scenarios, scenario), "-inf", inf,
		"-m", fmt.Sprint(len(lines)), "-t", tp, "-i", "127.0.0.1", "-nostdin", "-trace_err", "-trace_stat",
		"-timeout", "60s", "-recv_timeout", "20000"}, extra...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.t.Fatalf("running sipp: %v", err)
	}
	return successes(string(out)), string(out)
}

// successes reads SIPp's final "Successful call" cumulative count.
func successes(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Successful call") {
			f := strings.FieldsFunc(l, func(r rune) bool { return r == '|' || r == ' ' })
			if len(f) > 0 {
				fmt.Sscan(f[len(f)-1], &n)
			}
		}
	}
	return n
}

// TestSIP boots the device once with SIP forwarded and drives it with
// SIPp from the host: digest registrations over UDP and TLS and a call
// to a SIPp neighbour counted in xstatus License Smart; the
// export-control alarms and refusal from real TLS registrations above a
// simulated base load, readmission below the watermark; then, with the
// guest clock moved past the evaluation, the Unauthorized refusal.
func TestSIP(t *testing.T) {
	img := Image(t)
	port := FreeSIPPort(t)
	// The evaluation starts at first boot, 91 days before now: moving
	// the guest clock to now later ends it.
	start := time.Now().UTC().AddDate(0, 0, -91)
	v := Boot(t, img, SIPPort(port), RTCBase(start.Format("2006-01-02T15:04:05")))
	v.WaitReady(t)
	booted := time.Now()
	s := newSIPp(t, port)

	// The neighbour zone: a SIPp UAS on the host, 10.0.2.2 to the guest.
	nl, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nport := nl.LocalAddr().(*net.UDPAddr).Port
	nl.Close()

	v.Login(t, "admin", DefaultAdminPassword)
	for _, line := range []string{
		`xconfiguration SIP Domain 1 Name: "vx.example.com"`,
		`xcommand Credential Add Name: "alice" Password: "alicepw1"`,
		`xcommand Credential Add Name: "bob" Password: "bobpw123"`,
		fmt.Sprintf(`xconfiguration Zones Neighbor 1 Address: "10.0.2.2:%d"`, nport),
	} {
		wantOK(t, line, xapiLine(t, v, line))
	}

	// Registrations: a room system over UDP, a desktop over TLS.
	if n, out := s.run("register.xml", "udp", []string{"alice;vx.example.com;Cisco Room Kit"}, "-au", "alice", "-ap", "alicepw1"); n != 1 {
		t.Fatalf("alice's registration over UDP:\n%s", out)
	}
	if n, out := s.run("register.xml", "tls", []string{"bob;vx.example.com;Jabber"}, "-au", "bob", "-ap", "bobpw123"); n != 1 {
		t.Fatalf("bob's registration over TLS:\n%s", out)
	}
	st := xapiLine(t, v, "xstatus License Smart")
	wantLines(t, "licensing after two registrations", st,
		`*s License Smart Usage 1 Type: "Room Registration"`, `*s License Smart Usage 1 Count: 1`, `*s License Smart Usage 1 Real: 1`,
		`*s License Smart Usage 2 Type: "Desktop Registration"`, `*s License Smart Usage 2 Count: 1`,
		`*s License Smart ExportControl Real: 1`)
	wantLines(t, "SIP status", xapiLine(t, v, "xstatus SIP"),
		`*s SIP Registrations Room: 1`, `*s SIP Registrations Desktop: 1`, `*s SIP Registrations Encrypted: 1`)
	list := xapiLine(t, v, "xcommand SIP Registration List")
	wantLines(t, "registration list", list, `AOR: "alice@vx.example.com"`, `AOR: "bob@vx.example.com"`, `Transport: "TLS"`)

	// The proxy advertises the forwarded port (the hypervisor's OEM
	// string), so that clients on the host can follow its Record-Route.
	wantLines(t, "advertised address", xapiLine(t, v, "xstatus SIP Advertise"),
		fmt.Sprintf(`*s SIP Advertise Address: "127.0.0.1:%d"`, port), fmt.Sprintf(`*s SIP Advertise TLSAddress: "127.0.0.1:%d"`, port+1),
		`*s SIP Advertise Source: "hypervisor"`)

	// A call from alice to the neighbour holds one Rich Media Session.
	// alice sends ACK and BYE where the Record-Route says, as a SIP
	// client does (call-routed.xml), which must be the forwarded port.
	uas := exec.Command(s.bin, "-sf", filepath.Join(s.scenarios, "neighbor.xml"), "-i", "127.0.0.1", "-p", fmt.Sprint(nport),
		"-m", "1", "-nostdin", "-timeout", "120s")
	uas.Dir = t.TempDir()
	var uasOut strings.Builder
	uas.Stdout, uas.Stderr = &uasOut, &uasOut
	if err := uas.Start(); err != nil {
		t.Fatal(err)
	}
	uasDone := make(chan error, 1)
	go func() { uasDone <- uas.Wait() }()
	callDone := make(chan string, 1)
	go func() {
		n, out := s.run("call-routed.xml", "udp", []string{"alice;vx.example.com;dave"}, "-d", "30000")
		if n == 1 {
			out = ""
		}
		callDone <- out
	}()
	st, ok := pollXAPI(t, v, "xstatus License Smart Usage", 25*time.Second, func(out string) bool {
		return strings.Contains(out, `Type: "Rich Media Session"`)
	})
	if !ok {
		t.Errorf("no Rich Media Session during the call:\n%s", st)
	}
	wantLines(t, "SIP status during the call", xapiLine(t, v, "xstatus SIP Calls"), `*s SIP Calls Active: 1`, `*s SIP Calls Neighbor: 1`)
	if out := <-callDone; out != "" {
		t.Fatalf("the call failed:\n%s", out)
	}
	if err := <-uasDone; err != nil {
		t.Errorf("neighbour: %v\n%s", err, uasOut.String())
	}
	if st, ok := pollXAPI(t, v, "xstatus License Smart Usage", 15*time.Second, func(out string) bool {
		return !strings.Contains(out, "Rich Media Session")
	}); !ok {
		t.Errorf("Rich Media Session still in use 15 s after BYE:\n%s", st)
	}

	// un-REGISTER releases bob's desktop license.
	if n, out := s.run("unregister.xml", "tls", []string{"bob;vx.example.com;Jabber"}, "-au", "bob", "-ap", "bobpw123"); n != 1 {
		t.Fatalf("bob's un-REGISTER:\n%s", out)
	}
	// The release reaches the agent in the background, right after the
	// registrar's answer (docs/sip.md): poll, as a user refreshing would.
	st, ok = pollXAPI(t, v, "xstatus License Smart", 15*time.Second, func(out string) bool {
		// Usage lists the types in use; the License lines list every type.
		return !desktopInUse.MatchString(out) && strings.Contains(out, `*s License Smart ExportControl Real: 0`)
	})
	if !ok {
		t.Errorf("desktop license or its encrypted session still in use 15 s after un-REGISTER:\n%s", st)
	}

	// Export control: real TLS registrations on top of a simulated load.
	wantOK(t, "open registration", xapiLine(t, v, "xconfiguration SIP Registration Authentication: Off"))
	wantOK(t, "simulated load", xapiLine(t, v, "xcommand License Smart Sessions Set Encrypted: 2249 WebRTC: Off"))
	if n, out := s.run("register.xml", "tls", []string{"e0;vx.example.com;Jabber"}); n != 1 {
		t.Fatalf("TLS registration at 2249:\n%s", out)
	}
	wantLines(t, "alarms at 90 %", xapiLine(t, v, "xstatus Alarm"), "30047")
	wantOK(t, "simulated load", xapiLine(t, v, "xcommand License Smart Sessions Set Encrypted: 2494 WebRTC: Off"))
	var users []string
	for i := 1; i <= 8; i++ {
		users = append(users, fmt.Sprintf("e%d;vx.example.com;Jabber", i))
	}
	n, out := s.run("register.xml", "tls", users)
	if n != 5 || !strings.Contains(out, "503 Export Control Limit Reached") {
		t.Errorf("8 TLS registrations from 2495 sessions: %d admitted, want 5, the others refused with 503:\n%s", n, out)
	}
	st = xapiLine(t, v, "xstatus License Smart ExportControl")
	wantLines(t, "export control at the limit", st, `*s License Smart ExportControl Encrypted: 2500`,
		`*s License Smart ExportControl Real: 6`, `*s License Smart ExportControl Accepting: "No"`)
	alarms := xapiLine(t, v, "xstatus Alarm")
	wantLines(t, "alarms at the limit", alarms, "30048")
	if n, _ := s.run("register.xml", "tls", []string{"e9;vx.example.com;Jabber"}); n != 0 {
		t.Error("a TLS registration admitted at the limit")
	}
	wantOK(t, "simulated load", xapiLine(t, v, "xcommand License Smart Sessions Set Encrypted: 2468 WebRTC: Off"))
	if n, out := s.run("register.xml", "tls", []string{"e9;vx.example.com;Jabber"}); n != 1 {
		t.Errorf("TLS registration below the watermark (2474):\n%s", out)
	}
	wantLines(t, "SIP refusals", xapiLine(t, v, "xstatus SIP Refused"), "*s SIP Refused ExportControl: 4")
	wantOK(t, "simulated load", xapiLine(t, v, "xcommand License Smart Sessions Set Encrypted: 0 WebRTC: Off"))

	total, _ := xstatusValue(xapiLine(t, v, "xstatus SIP Registrations"), "SIP Registrations Total")
	v.Logout(t)

	// Unauthorized: the guest clock moves past the 90-day evaluation.
	v.Login(t, "root", DefaultRootPassword)
	runRoot(t, v, "date -u "+time.Now().UTC().Add(time.Hour).Format("010215042006"))
	v.Logout(t)
	v.Login(t, "admin", DefaultAdminPassword)
	st, ok = pollXAPI(t, v, "xstatus License Smart Unauthorized", 20*time.Second, func(out string) bool {
		return strings.Contains(out, `Unauthorized: "Yes"`)
	})
	if !ok {
		t.Fatalf("not Unauthorized after the clock moved:\n%s", st)
	}
	if n, out := s.run("register.xml", "udp", []string{"carol;vx.example.com;Jabber"}); n != 0 || !strings.Contains(out, "403 Licensing Unauthorized") {
		t.Errorf("registration while Unauthorized: %d admitted:\n%s", n, out)
	}
	wantLines(t, "registrations kept while Unauthorized", xapiLine(t, v, "xstatus SIP Registrations"),
		"*s SIP Registrations Total: "+total)
	t.Logf("SIP checks took %s after ready", time.Since(booted).Round(time.Second))
}

// desktopInUse matches a Usage line of desktop registrations in xstatus
// License Smart.
var desktopInUse = regexp.MustCompile(`Usage \d+ Type: "Desktop Registration"`)
