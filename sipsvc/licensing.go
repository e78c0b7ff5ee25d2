package sipsvc

import (
	"context"
	"errors"
	"time"

	"vxway/agentclient"
)

// agentTimeout bounds one admission round trip.
const agentTimeout = 5 * time.Second

// refusal is an admission the agent refused (or could not decide), with
// the SIP answer that says why.
type refusal struct {
	code   int
	reason string
	why    string
	key    string
}

// admit asks the agent whether one more of typ (over TLS when enc) may be
// admitted and, when it may, runs add under the service lock before any
// other report, so that the agent's count and the tables agree.
func (s *Service) admit(typ string, enc bool, add func()) *refusal {
	s.admitMu.Lock()
	defer s.admitMu.Unlock()
	s.mu.Lock()
	u := s.t().usage()
	s.mu.Unlock()
	u.Admit = &agentclient.Admission{Type: typ, Encrypted: enc}
	ctx, cancel := context.WithTimeout(context.Background(), agentTimeout)
	defer cancel()
	_, err := s.o.Licensing.ReportUsage(ctx, u)
	if r := refusalOf(err); r != nil {
		s.mu.Lock()
		s.refused[r.key]++
		if r.key == "LicensingUnavailable" {
			s.licErr = err.Error()
		}
		s.mu.Unlock()
		return r
	}
	s.mu.Lock()
	s.licErr = ""
	add()
	s.mu.Unlock()
	return nil
}

// refusalOf maps the agent's answer to the SIP answer.
func refusalOf(err error) *refusal {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, agentclient.ErrUnauthorized):
		return &refusal{403, "Licensing Unauthorized", err.Error(), "Unauthorized"}
	case errors.Is(err, agentclient.ErrExportLimit):
		return &refusal{503, "Export Control Limit Reached", err.Error(), "ExportControl"}
	case errors.Is(err, agentclient.ErrNotReserved):
		return &refusal{403, "License Not Reserved", err.Error(), "NotReserved"}
	}
	return &refusal{503, "Licensing Unavailable", "the licensing agent could not decide: " + err.Error(), "LicensingUnavailable"}
}

// changed wakes the reporter after a release.
func (s *Service) changed() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// reporter sends the live counts to the agent after every release and
// every ResyncEvery, until ctx ends.
func (s *Service) reporter(ctx context.Context) {
	tick := make(chan struct{}, 1)
	arm := func() {
		s.clk.AfterFunc(s.o.ResyncEvery, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
	}
	arm()
	s.report()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
		case <-tick:
			arm()
		}
		s.report()
	}
}

// report sends the live counts without asking for an admission.
func (s *Service) report() {
	s.admitMu.Lock()
	defer s.admitMu.Unlock()
	s.mu.Lock()
	u := s.t().usage()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), agentTimeout)
	defer cancel()
	_, err := s.o.Licensing.ReportUsage(ctx, u)
	s.mu.Lock()
	if err != nil {
		s.licErr = err.Error()
	} else {
		s.licErr = ""
	}
	s.mu.Unlock()
}
