package vmtest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// sipLoadRegistrations is the target: 2,600 live registrations
// in the VM, with the registrar under 64 MiB of resident memory.
const (
	sipLoadRegistrations = 2600
	sipLoadMaxKiB        = 64 << 10
)

// TestSIPLoad registers 2,600 endpoints over UDP through the forwarded
// port (open registration: 2,600 credentials typed on the console would
// take longer than the load) and checks that all are live with the
// registrar under 64 MiB; it logs SIPp's rate and the memory. It runs
// with make test-sip-load (VXWAY_SIP_LOAD=1), not in make test.
// VXWAY_SIP_LOAD_RATE sets the offered REGISTER/s (default 300).
func TestSIPLoad(t *testing.T) {
	if os.Getenv("VXWAY_SIP_LOAD") == "" {
		t.Skip("the SIP load test runs with make test-sip-load (VXWAY_SIP_LOAD=1)")
	}
	rate := 300
	if s := os.Getenv("VXWAY_SIP_LOAD_RATE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VXWAY_SIP_LOAD_RATE=%q: give REGISTER/s as a positive number", s)
		}
		rate = n
	}
	img := Image(t)
	port := FreeSIPPort(t)
	v := Boot(t, img, SIPPort(port))
	v.WaitReady(t)
	s := newSIPp(t, port)
	v.Login(t, "admin", DefaultAdminPassword)
	for _, line := range []string{
		`xconfiguration SIP Domain 1 Name: "vx.example.com"`,
		`xconfiguration SIP Registration Authentication: Off`,
	} {
		wantOK(t, line, xapiLine(t, v, line))
	}
	idle, _ := xstatusValue(xapiLine(t, v, "xstatus SIP Memory"), "SIP Memory ResidentKiB")

	var users []string
	for i := range sipLoadRegistrations {
		users = append(users, fmt.Sprintf("l%04d;vx.example.com;Jabber", i))
	}
	began := time.Now()
	n, out := s.run("register.xml", "udp", users, "-r", strconv.Itoa(rate), "-l", strconv.Itoa(rate), "-timeout", "300s")
	took := time.Since(began)
	st := xapiLine(t, v, "xstatus SIP")
	total, _ := xstatusValue(st, "SIP Registrations Total")
	mem, _ := xstatusValue(st, "SIP Memory ResidentKiB")
	kib, _ := strconv.Atoi(mem)
	t.Logf("in the VM: %d of %d registrations answered in %s (%.0f REGISTER/s offered %d/s); %s live; registrar resident memory %s KiB idle, %d KiB (%.1f MiB) with them",
		n, sipLoadRegistrations, took.Round(time.Second), float64(n)/took.Seconds(), rate, total, idle, kib, float64(kib)/1024)
	if total != strconv.Itoa(sipLoadRegistrations) {
		t.Errorf("%s live registrations, want %d; SIPp said:\n%s", total, sipLoadRegistrations, out)
	}
	if kib == 0 || kib > sipLoadMaxKiB {
		t.Errorf("registrar resident memory %d KiB with %s registrations, want under %d KiB", kib, total, sipLoadMaxKiB)
	}
	wantLines(t, "licensing with the load", xapiLine(t, v, "xstatus License Smart Usage"),
		`*s License Smart Usage 1 Type: "Desktop Registration"`, fmt.Sprintf(`*s License Smart Usage 1 Real: %d`, sipLoadRegistrations))
	v.Logout(t)
}
