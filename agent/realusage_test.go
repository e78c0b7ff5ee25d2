package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/reservation"
)

// TestRealUsageAdmission: the SIP service's live counts add to the
// simulated ones, and each admission follows the licensing rules.
func TestRealUsageAdmission(t *testing.T) {
	clk := clock.NewFake(t0)
	root := expresswayRoot(t)
	a := newTestAgent(t, root, clk, newMemManager(clk))
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	admit := func(u agentclient.RealUsage, typ string, enc bool) error {
		t.Helper()
		u.Admit = &agentclient.Admission{Type: typ, Encrypted: enc}
		_, err := a.ReportUsage(u)
		return err
	}
	if err := a.SetUsage(agentclient.TypeRoom, 2); err != nil {
		t.Fatal(err)
	}
	if err := admit(agentclient.RealUsage{Room: 1}, agentclient.TypeRoom, false); err != nil {
		t.Fatalf("admission in evaluation: %v", err)
	}
	st := a.Status()
	if len(st.Usage) != 1 || st.Usage[0].Count != 4 || st.Usage[0].Real != 2 || st.Usage[0].Simulated != 2 {
		t.Fatalf("usage after 1 real + 1 admitted + 2 simulated rooms: %+v, want count 4 (real 2, simulated 2)", st.Usage)
	}

	// Export control: the simulated sessions bring the real ones to the cap.
	if _, err := a.SetSessions(ExportLimit-2, false); err != nil {
		t.Fatal(err)
	}
	if err := admit(agentclient.RealUsage{Desktop: 1, Encrypted: 1}, agentclient.TypeDesktop, true); err != nil {
		t.Fatalf("encrypted admission below the cap: %v", err)
	}
	if got := diskAlarms(t, root); len(got) == 0 || got[len(got)-1] != AlarmExportCapReached {
		t.Errorf("alarms at the cap: %v, want %d", got, AlarmExportCapReached)
	}
	if err := admit(agentclient.RealUsage{Desktop: 2, Encrypted: 2}, agentclient.TypeDesktop, true); !errors.Is(err, agentclient.ErrExportLimit) {
		t.Errorf("encrypted admission at the cap: %v, want ErrExportLimit", err)
	}
	if err := admit(agentclient.RealUsage{Desktop: 2, Encrypted: 2}, agentclient.TypeDesktop, false); err != nil {
		t.Errorf("unencrypted admission at the cap: %v", err)
	}
	// Above the low watermark (2475) the latch holds.
	if err := admit(agentclient.RealUsage{Encrypted: 0}, agentclient.TypeRMS, true); !errors.Is(err, agentclient.ErrExportLimit) {
		t.Errorf("admission at %d: %v, want ErrExportLimit", ExportLimit-2, err)
	}
	if _, err := a.SetSessions(ExportLimit-ExportLimit/100-1, false); err != nil {
		t.Fatal(err)
	}
	if err := admit(agentclient.RealUsage{}, agentclient.TypeRMS, true); err != nil {
		t.Errorf("admission below the watermark: %v", err)
	}
	if st := a.Status().Export; st.Real != 1 || st.Simulated != ExportLimit-ExportLimit/100-1 {
		t.Errorf("export parts: real %d simulated %d", st.Real, st.Simulated)
	}

	// Unauthorized: registrations refused, calls admitted, lower counts taken.
	clk.Advance(EvaluationPeriod)
	if err := admit(agentclient.RealUsage{Room: 1}, agentclient.TypeRoom, false); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Errorf("room admission while Unauthorized: %v, want ErrUnauthorized", err)
	}
	if err := admit(agentclient.RealUsage{}, agentclient.TypeRMS, false); err != nil {
		t.Errorf("call admission while Unauthorized: %v", err)
	}
	if _, err := a.ReportUsage(agentclient.RealUsage{Room: -1}); !errors.Is(err, agentclient.ErrInvalidConfig) {
		t.Errorf("negative count: %v, want ErrInvalidConfig", err)
	}
}

// TestRealUsageReservation: under an SLR the real usage counts against
// the reservation with the simulated one, and a type that had expired
// when the device started is refused to the SIP service too.
func TestRealUsageReservation(t *testing.T) {
	clk := clock.NewFake(t0)
	root, signer, _ := reservationRoot(t)
	boot(t, root, "6c1b4a3e-0c1d-4e0f-9a43-5f1a2b3c4d5e")
	m := newMemManager(clk)
	a := newTestAgent(t, root, clk, m)
	req := requestReservation(t, a)
	startDay := t0.Truncate(24 * time.Hour)
	code, err := signer.IssueSLR(req, false, t0, []reservation.Entitlement{
		reservation.RMS.Entitlement(3, startDay, startDay.Add(10*day)),
		reservation.Room.Entitlement(2, time.Time{}, time.Time{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReservationInstall(code.Text); err != nil {
		t.Fatal(err)
	}
	call := func(rms int) error {
		_, err := a.ReportUsage(agentclient.RealUsage{RMS: rms, Admit: &agentclient.Admission{Type: agentclient.TypeRMS}})
		return err
	}
	if err := a.SetUsage(agentclient.TypeRMS, 1); err != nil {
		t.Fatal(err)
	}
	if err := call(1); err != nil {
		t.Fatalf("third of 3 reserved: %v", err)
	}
	if err := call(2); !errors.Is(err, agentclient.ErrNotReserved) {
		t.Fatalf("fourth of 3 reserved: %v, want ErrNotReserved", err)
	}

	// The device restarts after the end: rms is refused, room goes on.
	a.Close()
	clk.Advance(20 * day)
	boot(t, root, "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b")
	a = newTestAgent(t, root, clk, m)
	if err := call(0); !errors.Is(err, agentclient.ErrNotReserved) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("call of the expired type: %v, want ErrNotReserved naming the expiry", err)
	}
	if _, err := a.ReportUsage(agentclient.RealUsage{Admit: &agentclient.Admission{Type: agentclient.TypeRoom}}); err != nil {
		t.Errorf("room registration after the rms end: %v", err)
	}
}
