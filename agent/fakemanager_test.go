package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"vxway/agentclient"
	"vxway/clock"
)

// memManager is an in-process manager for state-machine tests, where the
// real one cannot follow a fake clock across 400 days. The integration
// tests run the real ssm binary.
type memManager struct {
	mu       sync.Mutex
	clk      clock.Clock
	skew     time.Duration
	down     error
	tokens   map[string]memToken
	licenses map[string]map[string]int // va -> type -> count
	inst     map[string]string         // instance -> va
	calls    map[string]int
	lastHost string
	lastIP   string
}

type memToken struct {
	va      string
	export  bool
	refusal string
}

func newMemManager(clk clock.Clock) *memManager {
	return &memManager{
		clk:      clk,
		tokens:   map[string]memToken{},
		licenses: map[string]map[string]int{},
		inst:     map[string]string{},
		calls:    map[string]int{},
	}
}

func (m *memManager) dial(agentclient.Config) (Manager, error) { return m, nil }

func (m *memManager) setDown(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = err
}

func (m *memManager) count(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

func (m *memManager) enter(op string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[op]++
	if m.down != nil {
		return time.Time{}, m.down
	}
	return m.clk.Now().Add(m.skew), nil
}

func (m *memManager) Register(_ context.Context, d Device, req RegisterRequest) (RegisterAnswer, error) {
	now, err := m.enter("register")
	if err != nil {
		return RegisterAnswer{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastHost, m.lastIP = req.Hostname, req.IP
	tok, ok := m.tokens[req.Token]
	if !ok {
		return RegisterAnswer{}, &agentclient.Rejected{Reason: "the registration token is unknown"}
	}
	if tok.refusal != "" {
		return RegisterAnswer{}, &agentclient.Rejected{Reason: tok.refusal}
	}
	if _, dup := m.inst[d.UDI]; dup && !req.Reregister {
		return RegisterAnswer{}, &agentclient.Rejected{Reason: "already registered"}
	}
	m.inst[d.UDI] = tok.va
	return RegisterAnswer{
		InstanceID: d.UDI, SmartAccount: "Acme", VirtualAccount: tok.va, ExportControlled: tok.export,
		CertPEM: []byte("cert"), CertNotAfter: now.AddDate(1, 0, 0), ManagerTime: now,
	}, nil
}

func (m *memManager) RenewRegistration(_ context.Context, d Device, host, ip string) (RenewAnswer, error) {
	now, err := m.enter("renew")
	if err != nil {
		return RenewAnswer{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.inst[d.InstanceID]; !ok {
		return RenewAnswer{}, &agentclient.Rejected{Reason: "not registered", Gone: true}
	}
	m.lastHost, m.lastIP = host, ip
	return RenewAnswer{CertPEM: []byte("cert2"), CertNotAfter: now.AddDate(1, 0, 0), ManagerTime: now}, nil
}

func (m *memManager) Authorize(_ context.Context, d Device, usage map[string]int, _, _ string) (AuthAnswer, error) {
	now, err := m.enter("authorize")
	if err != nil {
		return AuthAnswer{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	va, ok := m.inst[d.InstanceID]
	if !ok {
		return AuthAnswer{}, &agentclient.Rejected{Reason: "not registered", Gone: true}
	}
	res := map[string]string{}
	for t, n := range usage {
		if n <= m.licenses[va][t] {
			res[t] = ResultAuthorized
		} else {
			res[t] = ResultOutOfCompliance
		}
	}
	return AuthAnswer{Results: res, ManagerTime: now}, nil
}

func (m *memManager) Deregister(_ context.Context, d Device) error {
	if _, err := m.enter("deregister"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.inst[d.InstanceID]; !ok {
		return &agentclient.Rejected{Reason: "not registered"}
	}
	delete(m.inst, d.InstanceID)
	return nil
}

// errTimedOut is what an unreachable manager looks like.
func errTimedOut() error { return fmt.Errorf("operation timed out: %w", context.DeadlineExceeded) }
