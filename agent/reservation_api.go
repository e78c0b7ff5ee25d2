package agent

import (
	"fmt"
	"net/http"

	"vxway/agentclient"
	"vxway/reservation"
)

// maxCodeBody caps a request body that carries an authorization code:
// the longest code (reservation.MaxSLRBytes) with room for its JSON.
const maxCodeBody = 2*reservation.MaxSLRBytes + 1024

// reservationRoutes adds the license reservation calls to the local API.
func (a *Agent) reservationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("PUT /v1/reservation/enabled", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.ReservationEnableCall
		if !decode(w, r, &c) {
			return
		}
		reply(w, nil, a.SetReservationEnabled(c.Enabled))
	})
	mux.HandleFunc("POST /v1/reservation/request", func(w http.ResponseWriter, r *http.Request) {
		res, err := a.ReservationRequest()
		reply(w, res, err)
	})
	mux.HandleFunc("POST /v1/reservation/install", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.ReservationCodeCall
		if !decodeCode(w, r, &c) {
			return
		}
		res, err := a.ReservationInstall(c.Code)
		reply(w, res, err)
	})
	mux.HandleFunc("POST /v1/reservation/return", func(w http.ResponseWriter, r *http.Request) {
		res, err := a.ReservationReturn()
		reply(w, res, err)
	})
	mux.HandleFunc("POST /v1/reservation/return-authorization", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.ReservationCodeCall
		if !decodeCode(w, r, &c) {
			return
		}
		res, err := a.ReservationReturnAuthorization(c.Code)
		reply(w, res, err)
	})
	mux.HandleFunc("POST /v1/reservation/cancel", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, a.ReservationCancel())
	})
}

// decodeCode reads a body carrying a code; one too large for any code is
// refused as such.
func decodeCode(w http.ResponseWriter, r *http.Request, c *agentclient.ReservationCodeCall) bool {
	if r.ContentLength > maxCodeBody {
		reply(w, nil, fmt.Errorf("%w: %d bytes; no authorization code is longer than %d bytes", reservation.ErrOversized, r.ContentLength, reservation.MaxSLRBytes))
		return false
	}
	return decodeLimit(w, r, c, maxCodeBody)
}
