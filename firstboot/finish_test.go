package firstboot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"vxway/testsupport"

	"vxway/agent"
	"vxway/agentclient"
)

// manager answers the agent in process: the agent's transport to the real
// manager is tested by the agent and the VM tests; here what matters is
// what Finish asks of the agent.
type manager struct {
	mu     sync.Mutex
	down   error
	refuse string
	tokens []string
	cfg    agentclient.Config
	hosts  []string
}

func (m *manager) dial(cfg agentclient.Config) (agent.Manager, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg = cfg
	return m, nil
}

func (m *manager) Register(ctx context.Context, d agent.Device, req agent.RegisterRequest) (agent.RegisterAnswer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down != nil {
		return agent.RegisterAnswer{}, m.down
	}
	if m.refuse != "" {
		return agent.RegisterAnswer{}, &agentclient.Rejected{Reason: m.refuse}
	}
	m.tokens = append(m.tokens, req.Token)
	m.hosts = append(m.hosts, req.Hostname)
	return agent.RegisterAnswer{InstanceID: "inst-1", SmartAccount: "Example", VirtualAccount: "Default", ExportControlled: true,
		CertNotAfter: time.Now().AddDate(1, 0, 0), ManagerTime: time.Now()}, nil
}

func (m *manager) RenewRegistration(context.Context, agent.Device, string, string) (agent.RenewAnswer, error) {
	return agent.RenewAnswer{CertNotAfter: time.Now().AddDate(1, 0, 0), ManagerTime: time.Now()}, nil
}

func (m *manager) Authorize(_ context.Context, _ agent.Device, usage map[string]int, _, _ string) (agent.AuthAnswer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down != nil {
		return agent.AuthAnswer{}, m.down
	}
	res := map[string]string{}
	for k := range usage {
		res[k] = "Authorized"
	}
	return agent.AuthAnswer{Results: res, ManagerTime: time.Now()}, nil
}

func (m *manager) Deregister(context.Context, agent.Device) error { return nil }

// provisioned returns a device (with a root short enough for a unix
// socket) on which the full seed was applied.
func provisioned(t *testing.T) *device {
	t.Helper()
	d := newDevice(t, []byte(testsupport.FullSeed(t)))
	short, err := os.MkdirTemp("", "fb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	if err := os.Rename(d.root, filepath.Join(short, "r")); err != nil {
		t.Fatal(err)
	}
	d.root = filepath.Join(short, "r")
	if out, err := d.boot(t); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return d
}

// runAgent starts the real licensing agent on the device's socket.
func runAgent(t *testing.T, root string, m *manager) *agent.Agent {
	t.Helper()
	a, err := agent.New(agent.Options{Root: root, Dial: m.dial, Hostname: func() string { return "expwy-a" }, IP: func() string { return "192.0.2.10" }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := agent.Listen(filepath.Join(root, agentclient.SocketPath))
	if err != nil {
		t.Fatal(err)
	}
	api := agent.NewLoading()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.ServeHandler(ctx, ln, api, agent.DevicePolicy(uint32(os.Getuid()))) }()
	api.Ready(a)
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if err := agentclient.WaitSocket(context.Background(), filepath.Join(root, agentclient.SocketPath), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestFinishRegisters(t *testing.T) {
	d := provisioned(t)
	m := &manager{}
	runAgent(t, d.root, m)
	var log bytes.Buffer
	if err := Finish(context.Background(), d.root, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "tok-abc-123") {
		t.Errorf("the log shows the token:\n%s", log.String())
	}
	if len(m.tokens) != 1 || m.tokens[0] != "tok-abc-123" {
		t.Fatalf("manager got tokens %v", m.tokens)
	}
	if m.cfg.Mode != agentclient.OnPrem || m.cfg.URL != "https://ssm.example.test/SmartTransport" || !m.cfg.HideHostname {
		t.Errorf("agent dialled with %+v", m.cfg)
	}
	if m.hosts[0] != "" {
		t.Errorf("hostname %q shared although hide_hostname = true", m.hosts[0])
	}
	st := agentStatus(t, d.root)
	if st.Registration != agentclient.RegRegistered || st.Transport != agentclient.OnPrem {
		t.Errorf("agent status %+v", st)
	}
	if d.exists(LicensingPath) {
		t.Error("the token file is still on data")
	}
	if s := d.state(t); s.Licensing != LicensingRegistered {
		t.Errorf("state licensing %q", s.Licensing)
	}
	// Nothing left to do on the next boot.
	log.Reset()
	if err := Finish(context.Background(), d.root, &log); err != nil || log.Len() != 0 {
		t.Errorf("second Finish: %v %q", err, log.String())
	}
}

func agentStatus(t *testing.T, root string) agentclient.Status {
	t.Helper()
	st, err := agentclient.NewClient(filepath.Join(root, agentclient.SocketPath)).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFinishOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		manager    *manager
		noAgent    bool
		wantState  string
		keepsToken bool
		log        string
	}{
		{name: "manager unreachable", manager: &manager{down: errors.New("dial tcp: lookup ssm.example.test: no such host")}, wantState: LicensingRetrying, log: "the agent keeps retrying"},
		{name: "token refused", manager: &manager{refuse: "the token has expired"}, wantState: LicensingFailed, log: "registration failed"},
		{name: "agent not running", noAgent: true, wantState: LicensingPending, keepsToken: true, log: "trying again at the next boot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := provisioned(t)
			sock := filepath.Join(d.root, agentclient.SocketPath)
			if !tt.noAgent {
				runAgent(t, d.root, tt.manager)
			}
			var log bytes.Buffer
			err := finish(context.Background(), d.root, &log, agentclient.NewClient(sock), func(ctx context.Context) error {
				return agentclient.WaitSocket(ctx, sock, 200*time.Millisecond)
			})
			if tt.wantState == LicensingRetrying && err != nil {
				t.Errorf("Finish = %v; a pending registration is not an error", err)
			}
			if s := d.state(t); s.Licensing != tt.wantState {
				t.Errorf("state licensing %q (%s), want %q", s.Licensing, s.LicensingDetail, tt.wantState)
			}
			if d.exists(LicensingPath) != tt.keepsToken {
				t.Errorf("token file kept %v, want %v", d.exists(LicensingPath), tt.keepsToken)
			}
			if !strings.Contains(log.String(), tt.log) || strings.Contains(log.String(), "tok-abc-123") {
				t.Errorf("log:\n%s", log.String())
			}
			if tt.wantState == LicensingRetrying {
				if st := agentStatus(t, d.root); st.Registration != agentclient.RegPending {
					t.Errorf("agent registration %q, want %q", st.Registration, agentclient.RegPending)
				}
			}
		})
	}
}

func TestFinishProxyTransport(t *testing.T) {
	d := provisioned(t)
	// Re-provision the same root with a proxy seed: a factory reset wipes
	// data, which is what removing it here plays.
	os.RemoveAll(filepath.Join(d.root, "data"))
	d.attach(t, []byte(`version = 1
instance_id = "proxy-1"
[system]
brand = "Expressway"
[licensing]
transport = "proxy"
proxy_address = "proxy.example.test"
proxy_port = 3128
proxy_username = "ops"
proxy_password = "pr0xy-secret"
token = "tok-proxy"
`))
	if out, err := d.boot(t); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := &manager{}
	runAgent(t, d.root, m)
	var log bytes.Buffer
	if err := Finish(context.Background(), d.root, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	c := m.cfg
	if c.Mode != agentclient.Proxy || c.ProxyAddress != "proxy.example.test" || c.ProxyPort != 3128 || c.ProxyUsername != "ops" || c.ProxyPassword != "pr0xy-secret" || c.HideHostname {
		t.Errorf("agent dialled with %+v", c)
	}
	if strings.Contains(log.String(), "pr0xy-secret") || strings.Contains(log.String(), "tok-proxy") {
		t.Errorf("log shows a secret:\n%s", log.String())
	}
	if s := d.state(t); s.Licensing != LicensingRegistered || s.InstanceID != "proxy-1" {
		t.Errorf("state %+v", s)
	}
}
