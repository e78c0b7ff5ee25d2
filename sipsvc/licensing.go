package sipsvc

import (
	"context"
	"errors"
	"fmt"
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

// pending is one admission waiting for the agent's decision.
type pending struct {
	ad   agentclient.Admission
	add  func()
	done chan *refusal
}

// admit asks the agent whether one more of typ (over TLS when enc) may be
// admitted and, when it may, runs add under the service lock before any
// other report, so that the agent's count and the tables agree.
//
// Admissions that arrive while a call to the agent is under way queue
// up and go together in the next call, where the agent decides them in
// order against the counts the earlier ones left: one round trip for
// many under load, each decided exactly. The caller that finds no call
// under way makes it; whoever finishes a call with more queued hands
// the next one to a new goroutine and returns.
func (s *Service) admit(typ string, enc bool, add func()) *refusal {
	p := &pending{ad: agentclient.Admission{Type: typ, Encrypted: enc}, add: add, done: make(chan *refusal, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	lead := !s.deciding
	s.deciding = true
	s.qmu.Unlock()
	if lead {
		s.decideQueued()
	}
	return <-p.done
}

// decideQueued sends the queued admissions to the agent, then passes
// on to a new goroutine while more have queued.
func (s *Service) decideQueued() {
	s.qmu.Lock()
	n := min(len(s.queue), agentclient.MaxAdmissions)
	batch := s.queue[:n:n]
	s.queue = s.queue[n:]
	s.qmu.Unlock()
	s.decide(batch)
	s.qmu.Lock()
	more := len(s.queue) > 0
	s.deciding = more
	s.qmu.Unlock()
	if more {
		go s.decideQueued()
	}
}

// decide has the agent decide batch and answers each waiting admission.
func (s *Service) decide(batch []*pending) {
	s.admitMu.Lock()
	defer s.admitMu.Unlock()
	req := agentclient.Admissions{Admit: make([]agentclient.Admission, len(batch))}
	for i, p := range batch {
		req.Admit[i] = p.ad
	}
	s.mu.Lock()
	req.Usage = s.t().usage()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), agentTimeout)
	ans, err := s.o.Licensing.Admit(ctx, req)
	cancel()
	if err == nil && len(ans.Results) != len(batch) {
		err = fmt.Errorf("the agent answered %d admissions of %d", len(ans.Results), len(batch))
	}
	out := make([]*refusal, len(batch))
	s.mu.Lock()
	if err != nil {
		s.licErr = err.Error()
	} else {
		s.licErr = ""
	}
	for i, p := range batch {
		if err != nil {
			out[i] = refusalOf(err)
		} else if out[i] = refusalOf(ans.Results[i].Err()); out[i] == nil {
			p.add()
		}
		if out[i] != nil {
			s.refused[out[i].key]++
		}
	}
	s.mu.Unlock()
	for i, p := range batch {
		p.done <- out[i]
	}
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
