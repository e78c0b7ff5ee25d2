package sipsvc

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"vxway/agentclient"
	"vxway/sipclient"
)

// gateLicensing admits up to limit desktop registrations, counting the
// reported usage, holds its first Admit call until released, and
// records each call's batch size.
type gateLicensing struct {
	limit   int
	entered chan struct{}
	release chan struct{}

	mu      sync.Mutex
	batches []int
}

func (l *gateLicensing) ReportUsage(context.Context, agentclient.RealUsage) (agentclient.Admitted, error) {
	return agentclient.Admitted{}, nil
}

func (l *gateLicensing) Admit(_ context.Context, a agentclient.Admissions) (agentclient.AdmissionsAnswer, error) {
	l.mu.Lock()
	first := len(l.batches) == 0
	l.batches = append(l.batches, len(a.Admit))
	l.mu.Unlock()
	if first {
		l.entered <- struct{}{}
		<-l.release
	}
	ans := agentclient.AdmissionsAnswer{Results: make([]agentclient.AdmissionResult, len(a.Admit))}
	n := a.Usage.Desktop
	for i := range a.Admit {
		if n >= l.limit {
			ans.Results[i] = agentclient.ResultOf(fmt.Errorf("%w: %d of %d in use", agentclient.ErrNotReserved, n, l.limit))
			continue
		}
		n++
	}
	return ans, nil
}

// TestAdmissionsBatched: admissions that arrive while a call to the
// agent is under way go together in the next call, and the agent's
// decision for each (in order, against the counts before it) is what
// each gets: no more are admitted than the limit.
func TestAdmissionsBatched(t *testing.T) {
	s, _ := newUnitService(t, sipclient.Config{AuthenticationOff: true}, nil)
	l := &gateLicensing{limit: 4, entered: make(chan struct{}), release: make(chan struct{})}
	s.o.Licensing = l
	add := func(key string) func() {
		return func() { s.putContactLocked("u@vx", key, &contact{typ: agentclient.TypeDesktop}) }
	}
	results := make(chan *refusal, 6)
	go func() { results <- s.admit(agentclient.TypeDesktop, false, add("c0")) }()
	<-l.entered
	for i := 1; i <= 5; i++ {
		go func() { results <- s.admit(agentclient.TypeDesktop, false, add(fmt.Sprintf("c%d", i))) }()
	}
	// The five queue up behind the call under way.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.qmu.Lock()
		n := len(s.queue)
		s.qmu.Unlock()
		if n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d admissions queued, want 5", n)
		}
	}
	close(l.release)
	admitted, refused := 0, 0
	for range 6 {
		if r := <-results; r == nil {
			admitted++
		} else if r.key == "NotReserved" && r.code == 403 {
			refused++
		} else {
			t.Errorf("refusal %+v", r)
		}
	}
	if admitted != 4 || refused != 2 {
		t.Errorf("%d admitted and %d refused, want 4 and 2", admitted, refused)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.batches) != 2 || l.batches[0] != 1 || l.batches[1] != 5 {
		t.Errorf("calls to the agent with %v admissions, want [1 5]", l.batches)
	}
	if st := s.Status(); st.Desktop != 4 || st.Refused["NotReserved"] != 2 {
		t.Errorf("status: %d desktop, refused %v; want 4 and 2 NotReserved", st.Desktop, st.Refused)
	}
}
