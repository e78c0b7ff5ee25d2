package reservation_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"vxway/reservation"
)

// Example walks one SLR reservation through both sides: the device's
// State (package agent) and the manager's Signer and pool (package ssm).
func Example() {
	// Manager: its reservation key; devices trust its public half.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	manager, _ := reservation.NewSigner(key)
	trusted, _ := reservation.NewKeySet(manager.Public())

	// Device: xcommand License Smart Reservation Request.
	udi := reservation.UDI{PID: "Expressway", SN: "08F8FF3C", VID: "1.0"}
	var device reservation.State
	code, _, _ := device.Request(udi, "320aa69d", rand.Reader)

	// Manager: ssm reservation authorize --request CODE --license rms=10,room=5.
	req, err := reservation.ParseRequestCode(code.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	want, _ := reservation.ParseCounts("rms=10,room=5")
	purchased := reservation.Counts{reservation.RMS: 20, reservation.Room: 5}
	if err := reservation.CheckReserve(purchased, nil, nil, nil, want); err != nil {
		fmt.Println(err)
		return
	}
	var ents []reservation.Entitlement
	for _, t := range reservation.LicenseTypes() {
		if n := want[t]; n > 0 {
			ents = append(ents, t.Entitlement(n, time.Time{}, time.Time{}))
		}
	}
	issued, _ := manager.IssueSLR(req, false, time.Now(), ents)

	// Device: xcommand License Smart Reservation Install "<code>".
	res, err := device.Install(trusted, udi, issued.Text)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Manager: ssm reservation confirm --code HEX.
	fmt.Println("confirmed:", manager.VerifyConfirmation(req, issued.ID, res.Confirmation) == nil)

	// Device: xcommand License Smart Reservation Return.
	ret, _ := device.Return(trusted, udi)

	// Manager: ssm reservation return --code RETURNCODE.
	rc, _ := reservation.ParseReturnCode(ret)
	id, err := manager.VerifyReturn(req, rc, []reservation.CodeID{issued.ID})
	fmt.Println("returned:", err == nil && id == issued.ID, rc.Kind)
	// Output:
	// confirmed: true
	// returned: true installed code returned
}
