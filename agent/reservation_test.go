package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/platform"
	"vxway/reservation"
)

// reservationRoot lays out a device root that trusts signer's key, with
// a fixed platform identity and Smart Licensing on.
func reservationRoot(t testing.TB) (string, *reservation.Signer, reservation.UDI) {
	t.Helper()
	root := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := reservation.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"etc/vxway/trust/manager.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"persist/identity.json":       []byte(`{"serial":"0A1B2C3D","host_id":"0badcafe","source":"random","derived":"2026-01-01T00:00:00Z"}`),
		"data/config/system.json":     []byte(`{"brand":"Expressway","type":"Expressway-C","smart_licensing_enabled":true}`),
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, signer, reservation.UDI{PID: "Expressway", SN: "0A1B2C3D", VID: "1.0"}
}

// requestReservation turns the agent on, enables reservation and returns
// the request code it makes, parsed as the manager would.
func requestReservation(t testing.TB, a *Agent) reservation.RequestCode {
	t.Helper()
	a.SyncEnabled()
	if err := a.SetReservationEnabled(true); err != nil {
		t.Fatal(err)
	}
	rq, err := a.ReservationRequest()
	if err != nil {
		t.Fatal(err)
	}
	req, err := reservation.ParseRequestCode(rq.RequestCode)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// boot writes the kernel's boot id of a new boot of the device.
func boot(t *testing.T, root, id string) {
	t.Helper()
	p := filepath.Join(root, platform.BootIDPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(id+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
}

// TestHardEnforcement: an SLR entitlement ending while the agent runs
// changes nothing until the device restarts, even when the agent restarts
// (a crash, the supervisor) in the same boot; after a device restart past
// the end date the type is refused and alarm 30037 is raised, even with
// the clock set back; installing a valid code clears it.
func TestHardEnforcement(t *testing.T) {
	clk := clock.NewFake(t0)
	root, signer, _ := reservationRoot(t)
	boot(t, root, "6c1b4a3e-0c1d-4e0f-9a43-5f1a2b3c4d5e")
	m := newMemManager(clk)
	a := newTestAgent(t, root, clk, m)
	req := requestReservation(t, a)
	startDay := t0.Truncate(24 * time.Hour)
	lastDay := startDay.Add(10 * day)
	code, err := signer.IssueSLR(req, false, t0, []reservation.Entitlement{
		reservation.RMS.Entitlement(5, startDay, lastDay),
		reservation.Room.Entitlement(2, time.Time{}, time.Time{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.ReservationInstall(code.Text)
	if err != nil || res.Confirmation == "" {
		t.Fatalf("install: %+v %v", res, err)
	}
	if err := a.SetUsage(agentclient.TypeRMS, 3); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUsage(agentclient.TypeRMS, 6); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Fatalf("6 of 5 reserved: %v", err)
	}
	check(t, "installed", a, root, want{reg: agentclient.RegReservedSLR, auth: agentclient.AuthReserved, usage: map[string]string{agentclient.TypeRMS: agentclient.TypeReserved}})

	// The last day passes while the agent runs: nothing changes.
	clk.Advance(20 * day)
	if err := a.SetUsage(agentclient.TypeRMS, 4); err != nil {
		t.Fatalf("expired while running: %v", err)
	}
	check(t, "expired while running", a, root, want{reg: agentclient.RegReservedSLR, auth: agentclient.AuthReserved, usage: map[string]string{agentclient.TypeRMS: agentclient.TypeReserved}})
	if m.count("authorize") != 0 {
		t.Errorf("usage was reported to the manager in reservation mode")
	}

	// The agent restarts twice in the same boot, past the end date:
	// the reservation keeps the judgement of this boot, nothing stops.
	for i := range 2 {
		a.Close()
		clk.Advance(time.Hour)
		a = newTestAgent(t, root, clk, m)
		if err := a.SetUsage(agentclient.TypeRMS, 4); err != nil {
			t.Fatalf("agent restart %d in the same boot: %v", i+1, err)
		}
		check(t, "agent restarted in the same boot", a, root, want{reg: agentclient.RegReservedSLR, auth: agentclient.AuthReserved, usage: map[string]string{agentclient.TypeRMS: agentclient.TypeReserved}})
	}

	// The device restarts after the end date: rms stops, room goes on,
	// alarm 30037.
	a.Close()
	boot(t, root, "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b")
	a = newTestAgent(t, root, clk, m)
	if err := a.SetUsage(agentclient.TypeRMS, 5); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Fatalf("rms after restart past its end: %v", err)
	}
	if err := a.SetUsage(agentclient.TypeRoom, 2); err != nil {
		t.Fatalf("perpetual room after restart: %v", err)
	}
	check(t, "restarted past the end", a, root, want{reg: agentclient.RegReservedSLR, auth: agentclient.AuthReserved,
		alarms: []int{AlarmReservationExpired}, usage: map[string]string{agentclient.TypeRMS: agentclient.TypeResExpired, agentclient.TypeRoom: agentclient.TypeReserved}})
	if err := a.SetUsage(agentclient.TypeRMS, 2); err != nil {
		t.Errorf("lowering the usage of an expired type: %v", err)
	}

	// The clock set back before the end does not revive it: the anchor
	// on persist remembers the latest time seen.
	a.Close()
	clk.Set(t0.Add(2 * day))
	boot(t, root, "9d2c4b6a-8e1f-4a3b-b5c7-d9e1f3a5b7c9")
	a = newTestAgent(t, root, clk, m)
	if err := a.SetUsage(agentclient.TypeRMS, 3); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Fatalf("clock set back: %v", err)
	}
	if st := a.Status(); st.Reservation.Licenses[0].Status != "Expired" {
		t.Errorf("clock set back: %+v", st.Reservation.Licenses[0])
	}

	// A new code with a later end clears the alarm at once.
	code2, err := signer.IssueSLR(req, false, t0.Add(time.Hour), []reservation.Entitlement{
		reservation.RMS.Entitlement(5, startDay, startDay.Add(100*day)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReservationInstall(code2.Text); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUsage(agentclient.TypeRMS, 5); err != nil {
		t.Fatalf("after the new code: %v", err)
	}
	check(t, "new code", a, root, want{reg: agentclient.RegReservedSLR, auth: agentclient.AuthReserved, usage: map[string]string{agentclient.TypeRMS: agentclient.TypeReserved, agentclient.TypeRoom: agentclient.TypeNotReserved}})

	// Return: back to evaluation (spent by now), nothing reserved.
	if _, err := a.ReservationReturn(); err != nil {
		t.Fatal(err)
	}
	if st := a.Status(); st.Reservation.Status != agentclient.ResNone || st.Registration != agentclient.RegUnregistered {
		t.Errorf("after return: %q / %q", st.Reservation.Status, st.Registration)
	}
}

// TestReservationModeRules: reservation mode needs Smart Licensing on and
// the device unregistered, keeps a registration out, and is only left
// with nothing installed or requested.
func TestReservationModeRules(t *testing.T) {
	clk := clock.NewFake(t0)
	root, _, _ := reservationRoot(t)
	// A VCS: Smart Licensing off until Service Select makes it an
	// Expressway.
	if err := platform.SaveSystemConfig(root, platform.SystemConfig{Hostname: "vcs01", Brand: platform.BrandVCS, Type: platform.TypeC}); err != nil {
		t.Fatal(err)
	}
	m := newMemManager(clk)
	m.tokens["tok-sales"] = memToken{va: "Sales"}
	a := newTestAgent(t, root, clk, m)
	if err := a.SetReservationEnabled(true); !errors.Is(err, agentclient.ErrNotEnabled) {
		t.Fatalf("smart licensing off: %v", err)
	}
	if _, err := a.ReservationRequest(); !errors.Is(err, agentclient.ErrNotEnabled) {
		t.Fatalf("request with smart licensing off: %v", err)
	}
	if err := platform.SetBrand(root, platform.BrandExpressway, clk); err != nil {
		t.Fatal(err)
	}
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReservationRequest(); !errors.Is(err, agentclient.ErrReservation) {
		t.Fatalf("request with reservation off: %v", err)
	}
	if err := a.Register("tok-sales", false); err != nil {
		t.Fatal(err)
	}
	if err := a.SetReservationEnabled(true); !errors.Is(err, agentclient.ErrRegistered) {
		t.Fatalf("registered: %v", err)
	}
	if _, err := a.Deregister(); err != nil {
		t.Fatal(err)
	}
	if err := a.SetReservationEnabled(true); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("tok-sales", false); !errors.Is(err, agentclient.ErrReservation) {
		t.Fatalf("register in reservation mode: %v", err)
	}
	if _, err := a.ReservationRequest(); err != nil {
		t.Fatal(err)
	}
	if err := a.SetReservationEnabled(false); !errors.Is(err, agentclient.ErrReservation) {
		t.Fatalf("off with a request in progress: %v", err)
	}
	if err := a.ReservationCancel(); err != nil {
		t.Fatal(err)
	}
	if err := a.SetReservationEnabled(false); err != nil {
		t.Fatal(err)
	}
	if st := a.Status(); st.Reservation.Status != agentclient.ResOff {
		t.Errorf("after off: %+v", st.Reservation)
	}
}

// TestPLROverExpiredEvaluation: a PLR code lifts an Unauthorized device
// (evaluation over) up to the box's capacity.
func TestPLROverExpiredEvaluation(t *testing.T) {
	clk := clock.NewFake(t0)
	root, signer, _ := reservationRoot(t)
	a := newTestAgent(t, root, clk, newMemManager(clk))
	a.SyncEnabled()
	clk.Advance(EvaluationPeriod + day)
	if err := a.SetUsage(agentclient.TypeRoom, 1); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Fatalf("evaluation over: %v", err)
	}
	if err := a.SetReservationEnabled(true); err != nil {
		t.Fatal(err)
	}
	rq, err := a.ReservationRequest()
	if err != nil {
		t.Fatal(err)
	}
	req, err := reservation.ParseRequestCode(rq.RequestCode)
	if err != nil {
		t.Fatal(err)
	}
	code, err := signer.IssuePLR(req, true, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.ReservationInstall(code.Text)
	if err != nil || res.Confirmation != "" || res.Kind != "PLR" || !res.ExportControl {
		t.Fatalf("PLR install: %+v %v", res, err)
	}
	if err := a.SetUsage(agentclient.TypeRoom, plrCapacity(agentclient.TypeRoom)); err != nil {
		t.Fatalf("room up to capacity: %v", err)
	}
	if err := a.SetUsage(agentclient.TypeRoom, plrCapacity(agentclient.TypeRoom)+1); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Fatalf("room over capacity: %v", err)
	}
	check(t, "PLR", a, root, want{reg: agentclient.RegReservedPLR, auth: agentclient.AuthReserved, usage: map[string]string{agentclient.TypeRoom: agentclient.TypeReserved}})
	if st := a.Status(); st.Unauthorized || st.Reservation.ExportControl != "Allowed" {
		t.Errorf("PLR status: unauthorized %v, export control %q", st.Unauthorized, st.Reservation.ExportControl)
	}
}

// TestReservationNotHonouredWithOtherTrust: codes are verified again at
// start; when the trusted manager key changed, the reservation is shown
// as an error and not honoured.
func TestReservationNotHonouredWithOtherTrust(t *testing.T) {
	clk := clock.NewFake(t0)
	root, signer, _ := reservationRoot(t)
	m := newMemManager(clk)
	a := newTestAgent(t, root, clk, m)
	req := requestReservation(t, a)
	code, err := signer.IssuePLR(req, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReservationInstall(code.Text); err != nil {
		t.Fatal(err)
	}
	a.Close()
	other, _, _ := reservationRoot(t)
	pemFile := filepath.Join(root, "etc/vxway/trust/manager.pem")
	b, err := os.ReadFile(filepath.Join(other, "etc/vxway/trust/manager.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	a = newTestAgent(t, root, clk, m)
	st := a.Status()
	if st.Reservation.Status != agentclient.ResError || !strings.Contains(st.Reservation.Error, "signature") || st.Registration == agentclient.RegReservedPLR {
		t.Errorf("other trust: %+v, registration %q", st.Reservation, st.Registration)
	}
	if _, err := a.ReservationReturn(); !errors.Is(err, reservation.ErrSignature) {
		t.Errorf("return with other trust: %v", err)
	}
}
