package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vxway/reservation"
)

// TestReservationCLI walks an SLR reservation with an update and a PLR
// reservation through the ssm commands, with the device side played by
// package reservation's State (what the agent keeps).
func TestReservationCLI(t *testing.T) {
	c := &cliRun{t: t, bin: ssmBinary(t), data: filepath.Join(t.TempDir(), "mgr")}
	c.ok("init", "--san", "localhost")
	c.ok("account", "create", "Acme")
	c.ok("va", "create", "--account", "Acme", "Default")
	c.ok("license", "add", "--va", "Default", "--type", "rms", "--count", "10")
	c.ok("license", "add", "--va", "Default", "--type", "plr", "--count", "1")
	caPEM, err := os.ReadFile(filepath.Join(c.data, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := reservation.ParseKeySetPEM(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	udi := reservation.UDI{PID: "Expressway", SN: "08F8FF3C", VID: "1.0"}
	var dev reservation.State
	req, _, err := dev.Request(udi, "320aa69d", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rms := func(want string) {
		t.Helper()
		out := c.ok("license", "list", "--va", "Default")
		if !regexp.MustCompile(`rms\s+Rich Media Session\s+` + want).MatchString(out) {
			t.Errorf("license list, want rms %s:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reservation", "authorize", "--va", "Default", "--request", req.String()}, "--plr, or --license"},
		{[]string{"reservation", "authorize", "--va", "Default", "--request", req.String(), "--plr", "--license", "rms=1"}, "either --plr or --license"},
		{[]string{"reservation", "authorize", "--va", "Default", "--request", req.String(), "--license", "rms=11"}, "not enough licenses"},
		{[]string{"reservation", "authorize", "--va", "Default", "--request", req.String(), "--license", "gold=1"}, "gold"},
		{[]string{"reservation", "authorize", "--va", "Default", "--request", req.String(), "--license", "rms=1", "--end", "31/12/2027"}, "YYYY-MM-DD"},
		{[]string{"reservation", "authorize", "--va", "Default", "--request", strings.Replace(req.String(), "S08F8FF3C", "S08F8FF3D", 1), "--license", "rms=1"}, "mistyped"},
		{[]string{"reservation", "confirm", "--va", "Default", "--code", "0000000g"}, "8 hex digits"},
	} {
		if out := c.fail(tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("ssm %s:\n%s\ndoes not say %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
	rms(`10\s+0\s+0\s+10`)

	code := lastLine(c.ok("reservation", "authorize", "--va", "Default", "--request", req.String(), "--license", "rms=4", "--end", "2099-12-31"))
	rms(`10\s+0\s+4\s+6`)
	res, err := dev.Install(trusted, udi, code)
	if err != nil {
		t.Fatalf("device install: %v\n%s", err, code)
	}
	if out := c.fail("reservation", "confirm", "--va", "Default", "--code", "00000000"); !strings.Contains(out, "not the confirmation code") {
		t.Errorf("forged confirmation: %s", out)
	}
	c.ok("reservation", "confirm", "--va", "Default", "--code", res.Confirmation)

	// Update to 6: in transit the pool keeps the larger count.
	code = lastLine(c.ok("reservation", "authorize", "--va", "Default", "--request", req.String(), "--license", "rms=6"))
	rms(`10\s+0\s+6\s+4`)
	if res, err = dev.Install(trusted, udi, code); err != nil || !res.Updated {
		t.Fatalf("device update: %v %+v", err, res)
	}
	c.ok("reservation", "confirm", "--va", "Default", "--code", res.Confirmation)
	if out := c.ok("reservation", "list", "--va", "Default"); !strings.Contains(out, udi.String()) || !strings.Contains(out, "rms=6") {
		t.Errorf("reservation list:\n%s", out)
	}
	ret, err := dev.Return(trusted, udi)
	if err != nil {
		t.Fatal(err)
	}
	c.ok("reservation", "return", "--va", "Default", "--code", ret)
	rms(`10\s+0\s+0\s+10`)
	if out := c.fail("reservation", "return", "--va", "Default", "--code", ret); !strings.Contains(out, "return code") {
		t.Errorf("second return: %s", out)
	}

	// PLR on a second device: takes the one PLR license.
	var dev2 reservation.State
	udi2 := reservation.UDI{PID: "Expressway", SN: "0000AAAA", VID: "1.0"}
	req2, _, err := dev2.Request(udi2, "0a0b0c0d", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	code = lastLine(c.ok("reservation", "authorize", "--va", "Default", "--request", req2.String(), "--plr"))
	if _, err := dev2.Install(trusted, udi2, code); err != nil {
		t.Fatalf("PLR install: %v", err)
	}
	if out := c.ok("license", "list", "--va", "Default"); !regexp.MustCompile(`plr\s+.*\s+1\s+0\s+1\s+0`).MatchString(out) {
		t.Errorf("PLR pool:\n%s", out)
	}
	if out := c.fail("reservation", "authorize", "--va", "Default", "--request", req2.String(), "--plr"); !strings.Contains(out, "not enough") {
		t.Errorf("second PLR without licenses: %s", out)
	}
	ev := c.ok("events", "--va", "Default")
	for _, want := range []string{"reservation_authorized", "reservation_confirmed", "reservation_returned"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events miss %s:\n%s", want, ev)
		}
	}
}
