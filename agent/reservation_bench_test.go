package agent

import (
	"testing"
	"time"

	"vxway/clock"
	"vxway/reservation"
)

// reservedAgent is an agent in reservation mode with its request made.
func reservedAgent(b *testing.B) (*Agent, string, *reservation.Signer, reservation.RequestCode, *clock.Fake) {
	b.Helper()
	clk := clock.NewFake(t0)
	root, signer, _ := reservationRoot(b)
	a, err := New(Options{Root: root, Clock: clk, Dial: newMemManager(clk).dial, Hostname: func() string { return "h" }, IP: func() string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	req := requestReservation(b, a)
	return a, root, signer, req, clk
}

// BenchmarkReservationInstallSLR installs an SLR update (verify the new
// code and the installed one, confirmation code, atomic state write).
func BenchmarkReservationInstallSLR(b *testing.B) {
	a, _, signer, req, _ := reservedAgent(b)
	ents := []reservation.Entitlement{reservation.RMS.Entitlement(10, time.Time{}, time.Time{})}
	codes := make([]string, b.N)
	for i := range codes {
		c, err := signer.IssueSLR(req, false, t0.Add(time.Duration(i+1)*time.Millisecond), ents)
		if err != nil {
			b.Fatal(err)
		}
		codes[i] = c.Text
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := a.ReservationInstall(codes[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAgentStartWithReservation loads the state and judges an
// installed SLR reservation, as the daemon does at every start.
func BenchmarkAgentStartWithReservation(b *testing.B) {
	a, root, signer, req, clk := reservedAgent(b)
	c, err := signer.IssueSLR(req, false, t0, []reservation.Entitlement{reservation.RMS.Entitlement(10, t0, t0.Add(30*day))})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.ReservationInstall(c.Text); err != nil {
		b.Fatal(err)
	}
	a.Close()
	b.ResetTimer()
	for range b.N {
		n, err := New(Options{Root: root, Clock: clk, Dial: newMemManager(clk).dial, Hostname: func() string { return "h" }, IP: func() string { return "" }})
		if err != nil {
			b.Fatal(err)
		}
		if !n.reservedLocked() {
			b.Fatal("reservation not in force after start")
		}
	}
}
