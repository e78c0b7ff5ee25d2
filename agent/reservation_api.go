package agent

import (
	"context"
	"fmt"
	"net/http"

	"vxway/reservation"
)

// maxCodeBody caps a request body that carries an authorization code:
// the longest code (reservation.MaxSLRBytes) with room for its JSON.
const maxCodeBody = 2*reservation.MaxSLRBytes + 1024

// reservationRoutes adds the license reservation calls to the local API.
func (a *Agent) reservationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("PUT /v1/reservation/enabled", func(w http.ResponseWriter, r *http.Request) {
		var c ReservationEnableCall
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
		var c ReservationCodeCall
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
		var c ReservationCodeCall
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
func decodeCode(w http.ResponseWriter, r *http.Request, c *ReservationCodeCall) bool {
	if r.ContentLength > maxCodeBody {
		reply(w, nil, fmt.Errorf("%w: %d bytes; no authorization code is longer than %d bytes", reservation.ErrOversized, r.ContentLength, reservation.MaxSLRBytes))
		return false
	}
	return decodeLimit(w, r, c, maxCodeBody)
}

// SetReservationEnabled turns reservation mode on or off.
func (c *Client) SetReservationEnabled(ctx context.Context, on bool) error {
	return c.call(ctx, http.MethodPut, "/v1/reservation/enabled", ReservationEnableCall{Enabled: on}, nil)
}

// ReservationRequest returns the request code (made when there is none).
func (c *Client) ReservationRequest(ctx context.Context) (ReservationRequestResult, error) {
	var r ReservationRequestResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/request", struct{}{}, &r)
	return r, err
}

// ReservationInstall installs an authorization code.
func (c *Client) ReservationInstall(ctx context.Context, code string) (ReservationInstallResult, error) {
	var r ReservationInstallResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/install", ReservationCodeCall{Code: code}, &r)
	return r, err
}

// ReservationReturn returns the installed reservation.
func (c *Client) ReservationReturn(ctx context.Context) (ReservationReturnResult, error) {
	var r ReservationReturnResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/return", struct{}{}, &r)
	return r, err
}

// ReservationReturnAuthorization returns a code never installed.
func (c *Client) ReservationReturnAuthorization(ctx context.Context, code string) (ReservationReturnResult, error) {
	var r ReservationReturnResult
	err := c.call(ctx, http.MethodPost, "/v1/reservation/return-authorization", ReservationCodeCall{Code: code}, &r)
	return r, err
}

// ReservationCancel cancels the request in progress.
func (c *Client) ReservationCancel(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/reservation/cancel", struct{}{}, nil)
}
