package agentclient

import (
	"context"
	"net/http"
)

// MaxAdmissions bounds the admissions of one Admissions call.
const MaxAdmissions = 256

type (
	// Admissions is the SIP service's live counts with several new
	// registrations or calls for the agent to decide in order, as if
	// each were one ReportUsage with Admit set after the ones before it
	// (those admitted counted). The registrar sends the admissions
	// that queued up while its previous call was under way, so that
	// one round trip decides many under load and each is still decided
	// by the agent against the exact counts.
	Admissions struct {
		Usage RealUsage   `json:"usage"`
		Admit []Admission `json:"admit"`
	}
	// AdmissionsAnswer is the agent's answer: one result per admission,
	// in order, and the export-control status after them.
	AdmissionsAnswer struct {
		Results []AdmissionResult `json:"results"`
		Export  ExportStatus      `json:"export"`
	}
	// AdmissionResult is one decision: Refused is nil when admitted.
	AdmissionResult struct {
		Refused *ErrorAnswer `json:"refused,omitempty"`
	}
)

// Err is the refusal as an error (ErrUnauthorized, ErrNotReserved,
// ErrExportLimit or ErrInvalidConfig for errors.Is), nil when admitted.
func (r AdmissionResult) Err() error {
	if r.Refused == nil {
		return nil
	}
	return errorOf(*r.Refused)
}

// ResultOf is the result for an admission's error.
func ResultOf(err error) AdmissionResult {
	if err == nil {
		return AdmissionResult{}
	}
	e, _ := AnswerFor(err)
	return AdmissionResult{Refused: &e}
}

// Admit reports the live counts and has the agent decide each of a's
// admissions in order. An error is about the call as a whole (the
// agent down, invalid counts); refusals are in the results.
func (c *Client) Admit(ctx context.Context, a Admissions) (AdmissionsAnswer, error) {
	var ans AdmissionsAnswer
	err := c.call(ctx, http.MethodPut, "/v1/real-usage/admissions", a, &ans)
	return ans, err
}
