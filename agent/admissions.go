package agent

import (
	"fmt"
	"net/http"

	"vxway/agentclient"
)

// Admit records the real usage b.Usage and decides b's admissions in
// order, each as ReportUsage with Admit set would after the ones before
// it: the SIP service's batch of the admissions that queued up during
// its previous call.
func (a *Agent) Admit(b agentclient.Admissions) (agentclient.AdmissionsAnswer, error) {
	if b.Usage.Admit != nil {
		return agentclient.AdmissionsAnswer{}, fmt.Errorf("%w: the admissions go in admit, not in usage", agentclient.ErrInvalidConfig)
	}
	if len(b.Admit) > agentclient.MaxAdmissions {
		return agentclient.AdmissionsAnswer{}, fmt.Errorf("%w: %d admissions in one call; at most %d", agentclient.ErrInvalidConfig, len(b.Admit), agentclient.MaxAdmissions)
	}
	export, refusals, err := a.realUsageBorrowing(b.Usage, b.Admit)
	if err != nil {
		return agentclient.AdmissionsAnswer{}, err
	}
	ans := agentclient.AdmissionsAnswer{Export: export, Results: make([]agentclient.AdmissionResult, len(refusals))}
	for i, r := range refusals {
		ans.Results[i] = agentclient.ResultOf(r)
	}
	return ans, nil
}

// admissionRoutes serves PUT /v1/real-usage/admissions.
func (a *Agent) admissionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("PUT /v1/real-usage/admissions", func(w http.ResponseWriter, r *http.Request) {
		var b agentclient.Admissions
		if !decode(w, r, &b) {
			return
		}
		ans, err := a.Admit(b)
		reply(w, ans, err)
	})
}
