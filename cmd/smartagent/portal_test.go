package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vxway/browsertest"
)

// TestPortalInBrowser drives the manager's portal with chromium, as a
// smart-account administrator would, against a real `ssm serve` and real
// smartagent processes on loopback: sign in with the one-time password and
// change it, create a registration token and register a device with it,
// see the instance with its usage, reserve specific licenses for a second
// device from its request code and enter its confirmation code, remove the
// reserved device with its return code, transfer licenses, remove the
// registered instance, and read the event log. The request code comes from
// a real agent process: the same code a booted VM prints (the VM runs the
// same agent), so the flow needs no VM boot.
//
// With VXWAY_SCREENSHOTS=DIR the pages are saved there as PNG files (the
// screenshots of docs/manager.md).
func TestPortalInBrowser(t *testing.T) {
	browsertest.Chromium(t)
	m := newManager(t, "onprem")
	out := m.ok("user", "add", "--name", "alice", "--role", "account-admin", "--account", "Acme")
	oneTime := lastLine(out)
	base := fmt.Sprintf("https://127.0.0.1:%d", m.port)
	b := browsertest.New(t, base, browsertest.ServerKeyPin(t, fmt.Sprintf("127.0.0.1:%d", m.port)))

	// Sign in; the one-time password must be changed first.
	b.Open(t, "/portal/login", "#username")
	b.TypeInto(t, "#username", "alice")
	b.TypeInto(t, "#password", oneTime)
	b.Submit(t, "#signin")
	b.WantText(t, "first sign-in", "one-time password")
	b.TypeInto(t, "#current", oneTime)
	b.TypeInto(t, "#new", "alice-portal-pw")
	b.TypeInto(t, "#confirm", "alice-portal-pw")
	b.Submit(t, "#change-password")
	b.WantText(t, "accounts page", "Password changed", "Acme", "Sales", "Support")
	b.Screenshot(t, "portal-accounts")

	// General tab: a token with a description and export control.
	b.Open(t, "/portal/inventory/general?va=Sales", "#create-token")
	b.TypeInto(t, "#description", "lab expressways")
	b.TypeInto(t, "#uses", "2")
	b.Do(t, "ticking export control", b.JS(`document.querySelector("#export_controlled").checked = true`))
	b.Submit(t, "#create-token")
	tok := b.Text(t, "#flash-code-0")
	if len(tok) != 48 {
		t.Fatalf("token %q:\n%s", tok, b.BodyText())
	}
	b.WantText(t, "token list", "lab expressways", "0 of 2", "Allowed", "active")
	b.Screenshot(t, "portal-general")

	// A real agent registers with it and reports usage.
	d := newDevice(t, filepath.Join(m.data, "ca.crt"), "https://127.0.0.1:1/unused")
	d.ok("xconfiguration License Smart Transport Mode: OnPrem")
	d.ok(fmt.Sprintf(`xconfiguration License Smart Transport URL: %q`, m.url()))
	d.ok(fmt.Sprintf(`xcommand License Smart Register Token: %q`, tok))
	udi := d.status("InstanceId")
	d.ok("xcommand License Smart Usage Set Type: rms Count: 3")
	d.ok("xcommand License Smart UpdateUsage")
	if got := d.status("ExportControlled"); got != "Allowed" {
		t.Errorf("the device's export control: %q", got)
	}
	b.Open(t, "/portal/inventory/instances?va=Sales", "#instances")
	b.WantText(t, "product instances", udi, "vxtest.example.com", "Rich Media Session: 3 (authorized)")
	if lc := b.Text(t, "#instances .last-contact"); !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`).MatchString(lc) {
		t.Errorf("last contact %q", lc)
	}
	b.Screenshot(t, "portal-instances")

	// License Reservation (SLR) for a second, disconnected device.
	r := newReservationDevice(t, m)
	r.ok("xconfiguration License Smart ReservationEnable: On")
	req := resultLine(t, r.ok("xcommand License Smart Reservation Request"), "RequestCode")
	b.Open(t, "/portal/inventory/licenses?va=Sales", "#generate-code")
	b.SetValue(t, "#request", req)
	b.Do(t, "choosing SLR", b.JS(`document.querySelector("#kind-slr").checked = true`))
	b.TypeInto(t, "#qty_rms", "2")
	b.Submit(t, "#generate-code")
	code := b.Text(t, "#flash-code-0")
	if !strings.HasPrefix(code, "<specificPLR>") {
		t.Fatalf("authorization code %q:\n%s", code, b.BodyText())
	}
	b.WantText(t, "code issued", "in transit")
	if got := b.Text(t, `#licenses tr[data-type="rms"] .reserved`); got != "2" {
		t.Errorf("rms reserved %q, want 2", got)
	}
	b.Screenshot(t, "portal-reservation-code")
	installed := r.ok("xcommand License Smart Reservation Install " + quoted(code))
	conf := resultLine(t, installed, "ConfirmationCode")
	b.TypeInto(t, "#confirm-code", conf)
	b.Submit(t, "#confirm")
	b.WantText(t, "confirmed", "Confirmation code entered", "confirmed")
	b.Screenshot(t, "portal-licenses")
	m.pool("Sales", "rms", 5, 3, 2, 0)

	// Update Reserved Licenses: the form again with the instance's
	// request code; the new code holds 1, confirmed on the device.
	b.Submit(t, "#reservations button")
	b.Do(t, "the request code filled in", b.JS(fmt.Sprintf(`if (document.querySelector("#request").value !== %q) { throw new Error("the request code is not filled in") }`, req)))
	b.TypeInto(t, "#qty_rms", "1")
	b.Submit(t, "#generate-code")
	code2 := b.Text(t, "#flash-code-0")
	updated := r.ok("xcommand License Smart Reservation Install " + quoted(code2))
	if resultLine(t, updated, "Updated") != "Yes" {
		t.Errorf("the update was not installed as one:\n%s", updated)
	}
	b.TypeInto(t, "#confirm-code", resultLine(t, updated, "ConfirmationCode"))
	b.Submit(t, "#confirm")
	b.WantText(t, "update confirmed", "now holds rms=1", "superseded")
	m.pool("Sales", "rms", 5, 3, 1, 1)

	// Remove the reserved device with its return code.
	ret := resultLine(t, r.ok("xcommand License Smart Reservation Return"), "ReturnCode")
	b.Open(t, "/portal/inventory/instances?va=Sales", "#remove-reserved")
	b.TypeInto(t, "#return-code", ret)
	b.Submit(t, "#remove-reserved")
	b.WantText(t, "reserved instance removed", "removed with its return code", "rms=1 returned")
	m.pool("Sales", "rms", 5, 3, 0, 2)

	// Transfer licenses: only the available ones may go.
	b.Open(t, "/portal/inventory/licenses?va=Sales", "#transfer")
	b.TypeInto(t, "#transfer-count", "3")
	b.SetValue(t, "#transfer-to", "Support")
	b.Submit(t, "#transfer")
	b.WantText(t, "too many", "2 rms licenses available")
	m.pool("Sales", "rms", 5, 3, 0, 2)
	b.TypeInto(t, "#transfer-count", "2")
	b.Submit(t, "#transfer")
	b.WantText(t, "transferred", "Transferred 2 Rich Media Session licenses from Sales to Support")
	m.pool("Sales", "rms", 3, 3, 0, 0)
	m.pool("Support", "rms", 7, 0, 0, 7)

	// Remove the registered instance: its licenses return.
	b.Open(t, "/portal/inventory/instances?va=Sales", "#instances .remove")
	b.Submit(t, "#instances .remove")
	b.WantText(t, "removal asked", "Remove product instance "+udi+"?", "Rich Media Session: 3")
	b.Submit(t, "#confirm-remove")
	b.WantText(t, "instance removed", "removed; its licenses are back in Sales", "No registered product instance")
	m.pool("Sales", "rms", 3, 0, 0, 3)

	// Users: a virtual-account user of Sales, with a one-time password.
	b.Open(t, "/portal/users", "#add-user-button")
	b.TypeInto(t, "#user-name", "bob")
	b.SetValue(t, "#user-role", "va-user")
	b.SetValue(t, "#user-va", "Sales")
	b.Submit(t, "#add-user-button")
	if pw := b.Text(t, "#flash-code-0"); len(pw) != 16 {
		t.Errorf("one-time password %q:\n%s", pw, b.BodyText())
	}
	b.WantText(t, "users", "User bob added", "Virtual account user", "one-time, not yet changed")
	if list := m.ok("user", "list"); !strings.Contains(list, "bob") {
		t.Errorf("ssm user list lacks bob:\n%s", list)
	}

	b.Open(t, "/portal/inventory/events?va=Sales", "#events")
	b.WantText(t, "event log", "registered", "reservation_confirmed", "reservation_returned", "licenses_transferred", "removed")
	b.Screenshot(t, "portal-events")

	// Another smart account stays out of reach.
	m.ok("account", "create", "Beta")
	m.ok("va", "create", "--account", "Beta", "Hidden")
	b.Open(t, "/portal/inventory/general?va=Hidden", "main")
	b.WantText(t, "another account", `not found: virtual account "Hidden"`)

	// The manager's log names the user, never a password or a token.
	logs := m.logs.String()
	if !strings.Contains(logs, "portal sign-in") {
		t.Errorf("the manager did not log the sign-in:\n%s", logs)
	}
	for _, secret := range []string{oneTime, "alice-portal-pw", tok} {
		if strings.Contains(logs, secret) {
			t.Errorf("the manager's log shows a secret %q", secret)
		}
	}
}
