package agent

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"vxway/agentclient"
	"vxway/platform"
	"vxway/reservation"
)

// License reservation (docs/licensing.md#license-reservation, the codes in
// docs/reservation.md): a device that cannot reach a manager reserves
// licenses with codes carried by hand. The codes and their checks are
// package reservation's; the agent keeps the State in state.json, judges
// the installed reservation once per boot (hard enforcement) and
// checks usage against it.

// plrCapacity is the box's capacity per license type, the limit of a PLR
// reservation (which unlocks "every feature up to the box's capacity"):
// the large appliance's figures. Rich media sessions match the export
// control cap of encrypted sessions (docs/licensing.md#export-control).
func plrCapacity(t string) int {
	switch t {
	case agentclient.TypeRMS:
		return 2500
	case agentclient.TypeRoom, agentclient.TypeDesktop:
		return 5000
	}
	return 0
}

// judged is the installed reservation as judged once in this boot of the
// device (or when a code was installed since): it does not change while
// the device runs, so an entitlement ending meanwhile changes nothing
// until the next boot.
type judged struct {
	res    *reservation.Reservation
	limits reservation.Limits
	at     time.Time
	// err is why the installed codes no longer verify (the trusted
	// manager keys or the device identity changed); the reservation is
	// then not honoured.
	err error
}

// trustedKeys reads the manager keys the device trusts to sign codes.
func trustedKeys(root string) (reservation.KeySet, error) {
	dir := filepath.Join(root, platform.TrustDir)
	files, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return reservation.KeySet{}, fmt.Errorf("listing %s: %w", dir, err)
	}
	sort.Strings(files)
	var data [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return reservation.KeySet{}, fmt.Errorf("reading %s: %w", f, err)
		}
		data = append(data, b)
	}
	if len(data) == 0 {
		return reservation.KeySet{}, fmt.Errorf("%w: no manager certificate in %s, so no authorization code can be checked; the image must trust the manager's CA", agentclient.ErrNoTrust, dir)
	}
	ks, err := reservation.ParseKeySetPEM(data...)
	if err != nil {
		return reservation.KeySet{}, fmt.Errorf("%w: %s: %v", agentclient.ErrNoTrust, dir, err)
	}
	return ks, nil
}

// trustedKeysLocked is the manager keys the device trusts to sign codes.
// They are part of the image, which does not change while the agent runs,
// so they are read once; a failure is not kept, and the next call reads
// again.
func (a *Agent) trustedKeysLocked() (reservation.KeySet, error) {
	if a.trustedKeys != nil {
		return *a.trustedKeys, nil
	}
	ks, err := trustedKeys(a.root)
	if err != nil {
		return reservation.KeySet{}, err
	}
	a.trustedKeys = &ks
	return ks, nil
}

// judgeLocked verifies the installed reservation and judges it at at,
// and records the time with the boot id so that a restart of the agent
// within this boot judges at the same time.
func (a *Agent) judgeLocked(at time.Time) {
	a.resv = judged{at: at}
	rs := a.st.Reservation
	if rs == nil {
		return
	}
	if a.bootID != "" {
		if j := rs.Judged; j == nil || j.BootID != a.bootID || !j.At.Equal(at) {
			old := rs.Judged
			rs.Judged = &Judgement{BootID: a.bootID, At: at}
			if err := a.saveLocked(); err != nil {
				rs.Judged = old
				a.logf("licensing: recording when the reservation was judged: %v; a restart of the agent will judge it again", err)
			}
		}
	}
	if rs.Codes.Installed == nil {
		return
	}
	keys, err := a.trustedKeysLocked()
	if err != nil {
		a.resv.err = err
		return
	}
	udi, _, err := a.deviceIdentity()
	if err != nil {
		a.resv.err = err
		return
	}
	r, err := rs.Codes.Reservation(keys, udi)
	if err != nil {
		a.resv.err = err
		return
	}
	a.resv.res, a.resv.limits = r, r.LimitsAt(at)
	if len(a.resv.limits.Expired) > 0 {
		var names []string
		for _, t := range a.resv.limits.Expired {
			names = append(names, string(t))
		}
		a.logf("licensing: reserved licenses expired (judged at %s): %s; their functionality is stopped", at.UTC().Format(time.RFC3339), strings.Join(names, ", "))
	}
}

// judgeAtStart judges the reservation once per boot of the device (hard
// enforcement happens "at restart" of the device, not of the agent): at
// the time recorded when it was judged in this boot, if it was; else now,
// the later of the clock and the latest time the anchor has seen, so that
// a clock set back does not revive an expired license.
func (a *Agent) judgeAtStart() {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := a.nowLocked()
	if rs := a.st.Reservation; rs != nil && rs.Judged != nil && a.bootID != "" && rs.Judged.BootID == a.bootID {
		at = rs.Judged.At
		a.logf("licensing: the reservation was judged at %s in this boot; judging it at that time again", at.UTC().Format(time.RFC3339))
	}
	a.judgeLocked(at)
	if a.resv.err != nil {
		a.logf("licensing: the installed reservation is not honoured: %v", a.resv.err)
	}
}

// reservedLocked reports whether a verified reservation is in force.
func (a *Agent) reservedLocked() bool {
	rs := a.st.Reservation
	return rs != nil && rs.Enabled && a.resv.res != nil
}

// reservationModeLocked reports whether reservation mode is on.
func (a *Agent) reservationModeLocked() bool {
	return a.st.Reservation != nil && a.st.Reservation.Enabled
}

// reservedLimitLocked is how many licenses of type t the reservation in
// force allows, and why no more.
func (a *Agent) reservedLimitLocked(t string) (int, string) {
	j := a.resv
	if j.limits.Unlimited {
		return plrCapacity(t), fmt.Sprintf("the box's capacity is %d %s licenses (PLR)", plrCapacity(t), t)
	}
	lt := reservation.LicenseType(t)
	for _, e := range j.limits.Expired {
		if e == lt {
			return 0, fmt.Sprintf("the reserved %s licenses expired (judged at %s, once per boot of the device): their functionality is stopped until a new authorization code is installed with xcommand License Smart Reservation Install", t, j.at.UTC().Format(time.RFC3339))
		}
	}
	for _, e := range j.limits.NotStarted {
		if e == lt {
			return 0, fmt.Sprintf("the reserved %s licenses have not started yet", t)
		}
	}
	n := j.limits.Counts[lt]
	return n, fmt.Sprintf("%d %s licenses are reserved; reserve more on the manager and install the new authorization code", n, t)
}

// changeReservation runs f on a copy of the reservation codes and, when f
// succeeds, saves the state before anything is printed. On any error
// nothing changes, in memory or on disk.
func (a *Agent) changeReservationLocked(f func(s *reservation.State) error) error {
	rs := a.st.Reservation
	b, err := json.Marshal(rs.Codes)
	if err != nil {
		return fmt.Errorf("encoding the reservation state: %w", err)
	}
	var work reservation.State
	if err := json.Unmarshal(b, &work); err != nil {
		return fmt.Errorf("copying the reservation state: %w", err)
	}
	if err := f(&work); err != nil {
		return err
	}
	old := rs.Codes
	rs.Codes = work
	if err := a.saveLocked(); err != nil {
		rs.Codes = old
		return fmt.Errorf("saving the reservation (nothing changed): %w", err)
	}
	return nil
}

// needModeLocked refuses reservation commands outside reservation mode.
func (a *Agent) needModeLocked() error {
	if !a.st.Enabled {
		return fmt.Errorf("%w: turn on smart licensing first", agentclient.ErrNotEnabled)
	}
	if !a.reservationModeLocked() {
		return fmt.Errorf("%w is off: turn it on first with xconfiguration License Smart ReservationEnable: On", agentclient.ErrReservation)
	}
	return nil
}

// reservationInputsLocked checks reservation mode and gives what every
// command that verifies a code needs: the trusted manager keys and this
// device's UDI.
func (a *Agent) reservationInputsLocked() (reservation.KeySet, reservation.UDI, error) {
	if err := a.needModeLocked(); err != nil {
		return reservation.KeySet{}, reservation.UDI{}, err
	}
	keys, err := a.trustedKeysLocked()
	if err != nil {
		return reservation.KeySet{}, reservation.UDI{}, err
	}
	udi, _, err := a.deviceIdentity()
	if err != nil {
		return reservation.KeySet{}, reservation.UDI{}, err
	}
	return keys, udi, nil
}

// SetReservationEnabled turns reservation mode on or off. On needs Smart
// Licensing on and the device unregistered; off needs no reservation
// installed and no request in progress.
func (a *Agent) SetReservationEnabled(on bool) error {
	a.SyncEnabled()
	a.op.Lock()
	defer a.op.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if on {
		switch {
		case !a.st.Enabled:
			return fmt.Errorf("%w: license reservation needs smart licensing; turn it on first (xconfiguration License Smart Enabled: On)", agentclient.ErrNotEnabled)
		case a.st.Registration != nil:
			return fmt.Errorf("%w: license reservation is for devices that are not registered; deregister first with xcommand License Smart Deregister", agentclient.ErrRegistered)
		case a.st.Pending != nil:
			return fmt.Errorf("%w: a registration is pending; cancel it first with xcommand License Smart Deregister", agentclient.ErrRegistered)
		}
		if a.reservationModeLocked() {
			return nil
		}
		if a.st.Reservation == nil {
			a.st.Reservation = &ReservationState{}
		}
		a.st.Reservation.Enabled = true
		if err := a.saveLocked(); err != nil {
			a.st.Reservation.Enabled = false
			return err
		}
		a.judgeLocked(a.nowLocked())
		a.settleAlarmsLocked()
		a.logf("licensing: license reservation turned on")
		return nil
	}
	if !a.reservationModeLocked() {
		return nil
	}
	c := a.st.Reservation.Codes
	if c.Installed != nil {
		return fmt.Errorf("%w: a reservation is installed; give it back first with xcommand License Smart Reservation Return", agentclient.ErrReservation)
	}
	if c.Pending != nil {
		return fmt.Errorf("%w: a reservation request is in progress; cancel it first with xcommand License Smart Reservation Cancel", agentclient.ErrReservation)
	}
	a.st.Reservation.Enabled = false
	if err := a.saveLocked(); err != nil {
		a.st.Reservation.Enabled = true
		return err
	}
	a.resv = judged{}
	a.settleAlarmsLocked()
	a.logf("licensing: license reservation turned off")
	return nil
}

// ReservationRequest returns the request code to enter on the manager,
// making (and saving) a new request when none is in progress or
// installed.
func (a *Agent) ReservationRequest() (agentclient.ReservationRequestResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.needModeLocked(); err != nil {
		return agentclient.ReservationRequestResult{}, err
	}
	udi, host, err := a.deviceIdentity()
	if err != nil {
		return agentclient.ReservationRequestResult{}, err
	}
	var out agentclient.ReservationRequestResult
	err = a.changeReservationLocked(func(s *reservation.State) error {
		rc, made, err := s.Request(udi, host, rand.Reader)
		out = agentclient.ReservationRequestResult{RequestCode: rc.String(), New: made}
		return err
	})
	if err != nil {
		return agentclient.ReservationRequestResult{}, err
	}
	if out.New {
		a.logf("licensing: reservation request made: %s", out.RequestCode)
	}
	return out, nil
}

// ReservationInstall verifies and installs an authorization code (PLR
// compact or SLR XML). The new reservation is judged now, so a valid
// code clears the alarm of an expired one.
func (a *Agent) ReservationInstall(code string) (agentclient.ReservationInstallResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys, udi, err := a.reservationInputsLocked()
	if err != nil {
		return agentclient.ReservationInstallResult{}, err
	}
	var res *reservation.InstallResult
	err = a.changeReservationLocked(func(s *reservation.State) error {
		res, err = s.Install(keys, udi, code)
		return err
	})
	if err != nil {
		return agentclient.ReservationInstallResult{}, err
	}
	a.judgeLocked(a.nowLocked())
	a.settleAlarmsLocked()
	au := res.Authorization
	a.logf("licensing: %s authorization code installed (issued %s, code id %s)", au.Kind, au.Issued.UTC().Format(time.RFC3339), au.ID)
	return agentclient.ReservationInstallResult{Kind: au.Kind.String(), ExportControl: au.ExportControl, Confirmation: res.Confirmation, Updated: res.Updated}, nil
}

// ReservationReturn drops the installed reservation and returns the
// return code for it, saved before it is shown.
func (a *Agent) ReservationReturn() (agentclient.ReservationReturnResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys, udi, err := a.reservationInputsLocked()
	if err != nil {
		return agentclient.ReservationReturnResult{}, err
	}
	var code string
	err = a.changeReservationLocked(func(s *reservation.State) error {
		code, err = s.Return(keys, udi)
		return err
	})
	if err != nil {
		return agentclient.ReservationReturnResult{}, err
	}
	a.judgeLocked(a.nowLocked())
	a.settleAlarmsLocked()
	a.logf("licensing: reservation returned; return code %s", code)
	return agentclient.ReservationReturnResult{ReturnCode: code}, nil
}

// ReservationReturnAuthorization returns the return code for an
// authorization code that was never installed.
func (a *Agent) ReservationReturnAuthorization(code string) (agentclient.ReservationReturnResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys, udi, err := a.reservationInputsLocked()
	if err != nil {
		return agentclient.ReservationReturnResult{}, err
	}
	var out string
	err = a.changeReservationLocked(func(s *reservation.State) error {
		out, err = s.ReturnAuthorization(keys, udi, code)
		return err
	})
	if err != nil {
		return agentclient.ReservationReturnResult{}, err
	}
	a.logf("licensing: return code made for an authorization code never installed: %s", out)
	return agentclient.ReservationReturnResult{ReturnCode: out}, nil
}

// ReservationCancel abandons the request in progress.
func (a *Agent) ReservationCancel() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.needModeLocked(); err != nil {
		return err
	}
	if err := a.changeReservationLocked(func(s *reservation.State) error { return s.Cancel() }); err != nil {
		return err
	}
	a.logf("licensing: reservation request cancelled")
	return nil
}

// reservationStatusLocked reports the reservation part of the status.
func (a *Agent) reservationStatusLocked() agentclient.ReservationStatus {
	rs := a.st.Reservation
	if rs == nil || !rs.Enabled {
		return agentclient.ReservationStatus{Status: agentclient.ResOff}
	}
	s := agentclient.ReservationStatus{Enabled: true, Status: agentclient.ResNone}
	c := rs.Codes
	if c.Pending != nil {
		s.Status, s.RequestCode, s.Pending = agentclient.ResRequested, c.Pending.Code.String(), true
	}
	if c.Installed == nil {
		return s
	}
	s.RequestCode = c.Installed.Request.Code.String()
	s.InstanceID = c.Installed.Request.Code.PIID()
	s.Kind = c.Installed.Kind.String()
	if a.resv.err != nil || a.resv.res == nil {
		s.Status = agentclient.ResError
		if a.resv.err != nil {
			s.Error = a.resv.err.Error()
		}
		return s
	}
	r := a.resv.res
	s.Status, s.JudgedAt = agentclient.ResReserved, a.resv.at
	s.ExportControl = "Not Allowed"
	if r.ExportControl {
		s.ExportControl = "Allowed"
	}
	if n := len(r.Codes); n > 0 {
		s.Issued = r.Codes[n-1].Issued
	}
	if r.Kind == reservation.PLR {
		for _, t := range licenseTypes() {
			s.Licenses = append(s.Licenses, agentclient.ReservedLicense{Type: t, Name: typeName(t), Count: plrCapacity(t), Validity: "CAPACITY", Status: "Active"})
		}
		return s
	}
	for _, e := range r.Entitlements {
		l := agentclient.ReservedLicense{Name: e.DisplayName, Count: e.Count, Validity: string(e.Validity), Start: e.Start, End: e.End}
		t, ok := e.LicenseType()
		switch {
		case !ok:
			l.Type, l.Status = e.Tag, agentclient.TypeInvalidTag
		case e.Expired(a.resv.at):
			l.Type, l.Status = string(t), "Expired"
		case !e.Started(a.resv.at):
			l.Type, l.Status = string(t), "Not Started"
		default:
			l.Type, l.Status = string(t), "Active"
		}
		s.Licenses = append(s.Licenses, l)
	}
	return s
}
