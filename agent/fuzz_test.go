package agent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/reservation"
)

// FuzzLocalAPI: any request body to the local API is answered (no panic),
// and a refused registration never reaches the manager.
func FuzzLocalAPI(f *testing.F) {
	f.Add("/v1/register", `{"token":"abc"}`)
	f.Add("/v1/register", `{"token":"   "}`)
	f.Add("/v1/register", `{"token":1}`)
	f.Add("/v1/usage", `{"type":"rms","count":3}`)
	f.Add("/v1/config", `{"leaf":"Mode","value":"Proxy"}`)
	f.Add("/v1/sessions", `{"encrypted":2500,"webrtc":true}`)
	f.Add("/v1/config", strings.Repeat("[", 1000))
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	a, err := New(Options{Root: expresswayRoot(f), Clock: clk, Dial: m.dial, Hostname: func() string { return "h" }, IP: func() string { return "" }})
	if err != nil {
		f.Fatal(err)
	}
	if err := a.Enable(); err != nil {
		f.Fatal(err)
	}
	h := a.handler()
	f.Fuzz(func(t *testing.T, path, body string) {
		method := http.MethodPut
		if path == "/v1/register" {
			method = http.MethodPost
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://agent"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 0 {
			t.Fatal("no answer")
		}
	})
}

// FuzzReservationInstall: any text offered as an authorization code is
// answered through the local API, and a refused one leaves the state file
// byte for byte as it was.
func FuzzReservationInstall(f *testing.F) {
	clk := clock.NewFake(t0)
	root, signer, _ := reservationRoot(f)
	a, err := New(Options{Root: root, Clock: clk, Dial: newMemManager(clk).dial, Hostname: func() string { return "h" }, IP: func() string { return "" }})
	if err != nil {
		f.Fatal(err)
	}
	req := requestReservation(f, a)
	slr, err := signer.IssueSLR(req, false, t0, []reservation.Entitlement{reservation.RMS.Entitlement(3, time.Time{}, time.Time{})})
	if err != nil {
		f.Fatal(err)
	}
	plr, err := signer.IssuePLR(req, false, t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(slr.Text)
	f.Add(plr.Text)
	f.Add(strings.Replace(slr.Text, "<count>3</count>", "<count>4</count>", 1))
	f.Add("<!DOCTYPE x [<!ENTITY a 'b'>]><specificPLR>&a;</specificPLR>")
	f.Add("CA11do-VKcqvB")
	f.Add("")
	h := a.handler()
	state := filepath.Join(root, stateFile)
	// The state as the last input left it: each fuzzing process runs its
	// inputs one at a time, and only an accepted code changes it.
	before, err := os.ReadFile(state)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code string) {
		body, err := json.Marshal(agentclient.ReservationCodeCall{Code: code})
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://agent/v1/reservation/install", bytes.NewReader(body)))
		after, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Code == http.StatusOK {
			before = after
			return
		}
		if !bytes.Equal(before, after) {
			t.Fatalf("refused (%d %s) but the state changed", rec.Code, rec.Body.String())
		}
	})
}
