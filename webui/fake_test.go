package webui

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"vxway/agentclient"
)

// fakeLicensing stands in for the agent: it keeps a configuration with the
// agent's own rules (agentclient.Config.Apply) and answers registration
// and reservation calls the way the agent's local API does.
type fakeLicensing struct {
	mu    sync.Mutex
	cfg   agentclient.Config
	st    agentclient.Status
	calls []string
}

func newFakeLicensing() *fakeLicensing {
	return &fakeLicensing{
		cfg: agentclient.DefaultConfig(),
		st: agentclient.Status{Enabled: true, Registration: agentclient.RegUnregistered, Authorization: agentclient.AuthEvaluation,
			Transport: agentclient.Direct, EvaluationDaysLeft: 90,
			Usage:       []agentclient.UsageLine{{Type: "rms", Name: "Rich Media Session", Count: 3, Status: agentclient.TypeEvaluation}},
			Licenses:    []agentclient.LicenseLine{{Type: "rms", Name: "Rich Media Session", Installed: 10, InUse: 3, Borrowed: 7, Lent: 4}},
			Export:      agentclient.ExportStatus{Limit: 2500, Encrypted: 2300, Accepting: true, Approaching: true, ReadmitBelow: 2475},
			Reservation: agentclient.ReservationStatus{Status: agentclient.ResOff}},
	}
}

func (f *fakeLicensing) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// Calls lists the state-changing calls made so far.
func (f *fakeLicensing) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeLicensing) Status(context.Context) (agentclient.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

func (f *fakeLicensing) Config(context.Context) (agentclient.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg.Redacted(), nil
}

func (f *fakeLicensing) SetConfig(_ context.Context, leaf, value string) (agentclient.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.cfg.Apply(leaf, value, f.st.Registration == agentclient.RegRegistered)
	if err != nil {
		return f.cfg, err
	}
	f.cfg = n
	f.calls = append(f.calls, "SetConfig "+leaf)
	return n.Redacted(), nil
}

func (f *fakeLicensing) Enable(context.Context) error { f.record("Enable"); return nil }

func (f *fakeLicensing) Register(_ context.Context, token string, rereg bool) (agentclient.Status, error) {
	if strings.TrimSpace(token) == "" {
		return agentclient.Status{}, fmt.Errorf("%w: the token is empty; paste the Product Instance Registration Token", agentclient.ErrInvalidToken)
	}
	f.record("Register")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Registration, f.st.Authorization = agentclient.RegRegistered, agentclient.AuthAuthorized
	return f.st, nil
}

func (f *fakeLicensing) Deregister(context.Context) (string, error) {
	f.record("Deregister")
	return "", nil
}

func (f *fakeLicensing) RenewAuthorization(context.Context) (agentclient.Status, error) {
	f.record("RenewAuthorization")
	return f.Status(context.Background())
}

func (f *fakeLicensing) RenewRegistration(context.Context) (agentclient.Status, error) {
	f.record("RenewRegistration")
	return f.Status(context.Background())
}

func (f *fakeLicensing) UpdateUsage(context.Context) (agentclient.Status, error) {
	f.record("UpdateUsage")
	return f.Status(context.Background())
}

func (f *fakeLicensing) SetReservationEnabled(_ context.Context, on bool) error {
	f.record(fmt.Sprint("SetReservationEnabled ", on))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Reservation.Enabled = on
	return nil
}

func (f *fakeLicensing) ReservationRequest(context.Context) (agentclient.ReservationRequestResult, error) {
	f.record("ReservationRequest")
	return agentclient.ReservationRequestResult{RequestCode: "CB-PExpressway,S0000TEST,V1.0,Hcafe-XY"}, nil
}

func (f *fakeLicensing) ReservationInstall(_ context.Context, code string) (agentclient.ReservationInstallResult, error) {
	if !strings.HasPrefix(code, "CA") {
		return agentclient.ReservationInstallResult{}, fmt.Errorf("invalid authorization code: %q is not a code the manager made; copy it again", code)
	}
	f.record("ReservationInstall")
	return agentclient.ReservationInstallResult{Kind: "SLR", Confirmation: "08715c93"}, nil
}

func (f *fakeLicensing) ReservationReturn(context.Context) (agentclient.ReservationReturnResult, error) {
	f.record("ReservationReturn")
	return agentclient.ReservationReturnResult{ReturnCode: "CR1859-KLECsi"}, nil
}

func (f *fakeLicensing) ReservationReturnAuthorization(_ context.Context, code string) (agentclient.ReservationReturnResult, error) {
	f.record("ReservationReturnAuthorization")
	return agentclient.ReservationReturnResult{ReturnCode: "CR1859-KLECsi"}, nil
}

func (f *fakeLicensing) ReservationCancel(context.Context) error {
	f.record("ReservationCancel")
	return nil
}
