package sipsvc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/agent"
	"vxway/agentclient"
	"vxway/clock"
	"vxway/platform"
	"vxway/servercert"
	"vxway/sipclient"
	"vxway/testsupport"
)

// agentLicensing runs the real licensing agent in the test's process.
type agentLicensing struct{ a *agent.Agent }

func (l agentLicensing) ReportUsage(_ context.Context, u agentclient.RealUsage) (agentclient.Admitted, error) {
	return l.a.ReportUsage(u)
}

func (l agentLicensing) Admit(_ context.Context, b agentclient.Admissions) (agentclient.AdmissionsAnswer, error) {
	return l.a.Admit(b)
}

// rig is a registrar on loopback with an in-process agent and a fake
// clock.
type rig struct {
	t         *testing.T
	root      string
	clk       *clock.Fake
	ag        *agent.Agent
	svc       *Service
	port      int // UDP and TCP
	tlsPort   int
	scenarios string
	sipp      string
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func sippPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sipp is missing: install Debian's sip-tester (ci/host-deps.sh)")
		}
		t.Skip("sipp is missing: install Debian's sip-tester (ci/host-deps.sh)")
	}
	return p
}

func newRig(t *testing.T, cfg sipclient.Config, users map[string]string) *rig {
	t.Helper()
	r := &rig{t: t, sipp: sippPath(t), clk: clock.NewFake(t0), root: t.TempDir()}
	_, file, _, _ := runtime.Caller(0)
	r.scenarios = filepath.Join(filepath.Dir(file), "..", "ci", "sipp")
	sc := platform.SystemConfig{Hostname: "expe01", Brand: platform.BrandExpressway, Type: platform.TypeC, SmartLicensingEnabled: true}
	if err := platform.SaveSystemConfig(r.root, sc); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Options{Root: r.root, Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(a.Close)
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	r.ag = a
	if err := sipclient.SaveConfig(r.root, cfg); err != nil {
		t.Fatal(err)
	}
	for name, pw := range users {
		cr, err := sipclient.NewCredential(name, cfg.Realm(), pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := sipclient.UpdateCredentials(r.root, func(c sipclient.Credentials) error { c[name] = cr; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	r.svc, err = New(Options{Root: r.root, Clock: r.clk, Licensing: agentLicensing{a}, Log: testWriter{t}, Advertise: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	udp, tcp := listenPair(t)
	r.port = udp.LocalAddr().(*net.UDPAddr).Port
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.tlsPort = tl.Addr().(*net.TCPAddr).Port
	cert, _, err := servercert.LoadOrMakeCert(r.root, "expe01", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.svc.Serve(ctx, udp, tcp, TLSListener(tl, cert)) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

// listenPair listens on UDP and TCP on the same free loopback port.
func listenPair(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp
		}
		udp.Close()
	}
	t.Fatal("no free port for both UDP and TCP")
	return nil, nil
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// users writes a SIPp injection file.
func (r *rig) users(lines ...string) string {
	p := filepath.Join(r.t.TempDir(), "users.csv")
	if err := os.WriteFile(p, []byte("SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// sippRun runs one SIPp scenario against the registrar and reports
// whether every call succeeded, with SIPp's output.
func (r *rig) sippRun(scenario, transport, inf string, calls int, extra ...string) (bool, string) {
	r.t.Helper()
	port, tp := r.port, "u1"
	switch transport {
	case "tcp":
		tp = "t1"
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if transport == "tls" {
		addr, tp = testsupport.TLSBridge(r.t, fmt.Sprintf("127.0.0.1:%d", r.tlsPort)), "t1"
	}
	args := []string{addr, "-sf", filepath.Join(r.scenarios, scenario),
		"-inf", inf, "-m", fmt.Sprint(calls), "-t", tp, "-i", "127.0.0.1",
		"-nostdin", "-trace_err", "-timeout", "20s", "-timeout_error", "-max_recv_loops", "1000",
		"-recv_timeout", "5000"}
	args = append(args, extra...)
	dir := r.t.TempDir()
	cmd := exec.Command(r.sipp, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	errs, _ := filepath.Glob(filepath.Join(dir, "*_errors.log"))
	for _, e := range errs {
		b, _ := os.ReadFile(e)
		out = append(out, b...)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatalf("running sipp: %v", err)
	}
	return err == nil, string(out)
}

// register runs a REGISTER scenario for one user with its password.
func (r *rig) register(scenario, transport, user, password, ua string) (bool, string) {
	r.t.Helper()
	return r.sippRun(scenario, transport, r.users(user+";vx.example.com;"+ua), 1, "-au", user, "-ap", password)
}

func (r *rig) usage(typ string) (count, real int) {
	for _, u := range r.ag.Status().Usage {
		if u.Type == typ {
			return u.Count, u.Real
		}
	}
	return 0, 0
}

// TestRegisterCountsLicenses: REGISTER with digest over UDP, TCP and TLS
// take room and desktop licenses by User-Agent and TLS ones count as
// encrypted; un-REGISTER and expiry give them back.
func TestRegisterCountsLicenses(t *testing.T) {
	r := newRig(t, sipclient.Config{Domain: "vx.example.com"}, map[string]string{"alice": "alicepw1", "bob": "bobpw123", "carol": "carolpw1"})
	if ok, out := r.register("register.xml", "udp", "alice", "alicepw1", "Cisco Room Kit"); !ok {
		t.Fatalf("UDP registration failed:\n%s", out)
	}
	if ok, out := r.register("register.xml", "tcp", "bob", "bobpw123", "Jabber desktop"); !ok {
		t.Fatalf("TCP registration failed:\n%s", out)
	}
	if ok, out := r.register("register.xml", "tls", "carol", "carolpw1", "Softphone"); !ok {
		t.Fatalf("TLS registration failed:\n%s", out)
	}
	st := r.svc.Status()
	if st.Room != 1 || st.Desktop != 2 || st.Encrypted != 1 {
		t.Fatalf("status after 3 registrations: %+v, want 1 room, 2 desktop, 1 encrypted", st)
	}
	if n, real := r.usage(agentclient.TypeDesktop); n != 2 || real != 2 {
		t.Errorf("agent desktop usage %d (real %d), want 2", n, real)
	}
	if e := r.ag.Status().Export; e.Real != 1 {
		t.Errorf("agent encrypted sessions real %d, want 1", e.Real)
	}
	// Wrong password: refused, nothing counted.
	if ok, _ := r.register("register.xml", "udp", "alice", "wrong", "Cisco Room Kit"); ok {
		t.Error("a wrong password registered")
	}
	if ok, out := r.register("unregister.xml", "tcp", "bob", "bobpw123", "Jabber desktop"); !ok {
		t.Fatalf("un-REGISTER failed:\n%s", out)
	}
	r.waitUsage(agentclient.TypeDesktop, 1)
	// Expiry (300 s) releases the rest.
	r.clk.Advance(301 * time.Second)
	r.waitUsage(agentclient.TypeDesktop, 0)
	r.waitUsage(agentclient.TypeRoom, 0)
	if st := r.svc.Status(); st.Room+st.Desktop != 0 {
		t.Errorf("registrations after expiry: %+v", st)
	}
}

// waitUsage waits for the reporter to tell the agent (releases are
// reported by a goroutine, right after the change).
func (r *rig) waitUsage(typ string, want int) {
	r.t.Helper()
	if !r.pollUsage(typ, want) {
		n, _ := r.usage(typ)
		r.t.Fatalf("agent %s usage %d, want %d", typ, n, want)
	}
}

// pollUsage reports whether the agent's usage of typ reaches want
// within 5 s.
func (r *rig) pollUsage(typ string, want int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := r.usage(typ); n == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNeighbourCallUsesRichMediaSession: a call from a registered
// endpoint to the neighbour zone (a SIPp UAS) holds one Rich Media
// Session while the dialog lives; BYE gives it back.
func TestNeighbourCallUsesRichMediaSession(t *testing.T) {
	nport := freeUDPPort(t)
	r := newRig(t, sipclient.Config{Domain: "vx.example.com", Neighbor: fmt.Sprintf("127.0.0.1:%d", nport)}, map[string]string{"alice": "alicepw1"})
	if ok, out := r.register("register.xml", "udp", "alice", "alicepw1", "Jabber"); !ok {
		t.Fatalf("registration failed:\n%s", out)
	}
	uasDone := r.neighbour("neighbor.xml", nport)
	callDone := r.callAsync("call.xml", "alice;vx.example.com;dave", "-d", "1500")
	if !r.pollUsage(agentclient.TypeRMS, 1) {
		t.Fatalf("no Rich Media Session in use during the call; caller:\n%s\nneighbour:\n%s", <-callDone, <-uasDone)
	}
	if st := r.svc.Status(); st.Calls != 1 || st.NeighborCalls != 1 {
		t.Errorf("status during the call: %+v", st)
	}
	if out := <-callDone; out != "" {
		t.Fatalf("call failed:\n%s", out)
	}
	if out := <-uasDone; out != "" {
		t.Fatalf("neighbour:\n%s", out)
	}
	r.waitUsage(agentclient.TypeRMS, 0)
	if st := r.svc.Status(); st.Calls != 0 {
		t.Errorf("calls after BYE: %d", st.Calls)
	}
}

// TestCallReleases: CANCEL while the neighbour rings, and the session
// timer of a call nobody hangs up, release the Rich Media Session.
func TestCallReleases(t *testing.T) {
	nport := freeUDPPort(t)
	r := newRig(t, sipclient.Config{Domain: "vx.example.com", Neighbor: fmt.Sprintf("127.0.0.1:%d", nport)}, map[string]string{"alice": "alicepw1"})
	if ok, out := r.register("register.xml", "udp", "alice", "alicepw1", "Jabber"); !ok {
		t.Fatalf("registration failed:\n%s", out)
	}
	uasDone := r.neighbour("neighbor-ring.xml", nport)
	if out := <-r.callAsync("cancel.xml", "alice;vx.example.com;dave"); out != "" {
		t.Fatalf("cancelled call:\n%s", out)
	}
	if out := <-uasDone; out != "" {
		t.Fatalf("ringing neighbour:\n%s", out)
	}
	r.waitUsage(agentclient.TypeRMS, 0)
	if st := r.svc.Status(); st.Calls != 0 {
		t.Errorf("calls after CANCEL: %d", st.Calls)
	}

	// A call whose BYE comes after its session timer (1800 s) ran out:
	// the timer has released it, the BYE finds no call.
	uasDone = r.neighbour("neighbor.xml", nport)
	callDone := r.callAsync("call.xml", "alice;vx.example.com;dave", "-d", "3000")
	if !r.pollUsage(agentclient.TypeRMS, 1) {
		t.Fatalf("no Rich Media Session during the call:\n%s", <-callDone)
	}
	// Once the 200 OK has started the session timer:
	for deadline := time.Now().Add(5 * time.Second); !r.svc.established(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the call was not answered:\n%s", <-callDone)
		}
	}
	r.clk.Advance(DefaultSessionExpires + time.Second)
	if st := r.svc.Status(); st.Calls != 0 {
		t.Errorf("calls after the session timer: %d", st.Calls)
	}
	r.waitUsage(agentclient.TypeRMS, 0)
	if out := <-callDone; !strings.Contains(out, "481 Call/Transaction Does Not Exist") {
		t.Errorf("BYE after the session timer: want 481, SIPp said:\n%s", out)
	}
	<-uasDone
}

// established reports whether a call has its session timer running.
func (s *Service) established() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dialogs {
		if d.confirmed {
			return true
		}
	}
	return false
}

// freeUDPPort finds a free loopback UDP port for a SIPp UAS.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	return udp.LocalAddr().(*net.UDPAddr).Port
}

// neighbour runs a SIPp UAS scenario for one call on port; the channel
// gives "" when it succeeded, else its output.
func (r *rig) neighbour(scenario string, port int) <-chan string {
	r.t.Helper()
	uas := exec.Command(r.sipp, "-sf", filepath.Join(r.scenarios, scenario), "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-m", "1", "-nostdin", "-timeout", "10s", "-timeout_error")
	uas.Dir = r.t.TempDir()
	out := &strings.Builder{}
	uas.Stdout, uas.Stderr = out, out
	if err := uas.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		if err := uas.Wait(); err != nil {
			done <- err.Error() + "\n" + out.String()
			return
		}
		done <- ""
	}()
	return done
}

// callAsync runs a UAC scenario for one injection line; the channel
// gives "" when the call succeeded, else SIPp's output.
func (r *rig) callAsync(scenario, line string, extra ...string) <-chan string {
	done := make(chan string, 1)
	inf := r.users(line)
	go func() {
		ok, out := r.sippRun(scenario, "udp", inf, 1, extra...)
		if ok {
			out = ""
		}
		done <- out
	}()
	return done
}

// TestEnforcement: Unauthorized refuses new registrations and keeps
// the existing ones; export control at its limit refuses new encrypted
// registrations until usage falls below the watermark.
func TestEnforcement(t *testing.T) {
	r := newRig(t, sipclient.Config{AuthenticationOff: true}, nil)
	reg := func(tp, user string) (bool, string) {
		return r.sippRun("register.xml", tp, r.users(user+";vx.example.com;Jabber"), 1)
	}
	// Near the end of the evaluation, so that the registrations (300 s)
	// outlive it.
	r.clk.Advance(agent.EvaluationPeriod - 200*time.Second)
	if _, err := r.ag.SetSessions(agent.ExportLimit-1, false); err != nil {
		t.Fatal(err)
	}
	if ok, out := reg("tls", "e1"); !ok {
		t.Fatalf("encrypted registration below the limit refused:\n%s", out)
	}
	ok, out := reg("tls", "e2")
	if ok || !strings.Contains(out, "503 Export Control Limit Reached") || !strings.Contains(out, `Warning: 399 vxway "export-control limit reached`) {
		t.Fatalf("encrypted registration at the limit: ok %v\n%s", ok, out)
	}
	if ok, out := reg("udp", "u1"); !ok {
		t.Fatalf("unencrypted registration at the limit refused:\n%s", out)
	}
	if _, err := r.ag.SetSessions(agent.ExportLimit-agent.ExportLimit/100-2, false); err != nil {
		t.Fatal(err)
	}
	if ok, out := reg("tls", "e2"); !ok {
		t.Fatalf("encrypted registration below the watermark refused:\n%s", out)
	}
	if st := r.svc.Status(); st.Refused["ExportControl"] != 1 || st.Encrypted != 2 {
		t.Errorf("status: %+v", st)
	}

	r.clk.Advance(201 * time.Second)
	ok, out = reg("udp", "u2")
	if ok || !strings.Contains(out, "403 Licensing Unauthorized") || !strings.Contains(out, "new desktop registrations are refused") {
		t.Fatalf("registration while Unauthorized: ok %v\n%s", ok, out)
	}
	if st := r.svc.Status(); st.Desktop != 3 {
		t.Errorf("registrations kept while Unauthorized: %d, want 3", st.Desktop)
	}
}

// TestLocalCallUsesNoLicense: a call between two registered endpoints
// is routed to the callee's registered address and uses no Rich Media
// Session.
func TestLocalCallUsesNoLicense(t *testing.T) {
	r := newRig(t, sipclient.Config{Domain: "vx.example.com"}, map[string]string{"alice": "alicepw1", "bob": "bobpw123"})
	bport := freeUDPPort(t)
	if ok, out := r.register("register.xml", "udp", "alice", "alicepw1", "Jabber"); !ok {
		t.Fatalf("alice:\n%s", out)
	}
	// bob registers from the port its UAS then answers on.
	if ok, out := r.sippRun("register.xml", "udp", r.users("bob;vx.example.com;Jabber"), 1, "-au", "bob", "-ap", "bobpw123", "-p", fmt.Sprint(bport)); !ok {
		t.Fatalf("bob:\n%s", out)
	}
	bobDone := r.neighbour("neighbor.xml", bport)
	callDone := r.callAsync("call.xml", "alice;vx.example.com;bob", "-d", "1000")
	for deadline := time.Now().Add(5 * time.Second); !r.svc.established(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bob did not answer:\n%s\n%s", <-callDone, <-bobDone)
		}
	}
	if st := r.svc.Status(); st.Calls != 1 || st.NeighborCalls != 0 {
		t.Errorf("status during the local call: %+v", st)
	}
	if n, _ := r.usage(agentclient.TypeRMS); n != 0 {
		t.Errorf("a local call uses %d Rich Media Sessions", n)
	}
	if out := <-callDone; out != "" {
		t.Fatalf("call:\n%s", out)
	}
	if out := <-bobDone; out != "" {
		t.Fatalf("bob's side:\n%s", out)
	}
}

// udpForward relays UDP from a loopback port to dst, one upstream
// socket per client (a NAT, as QEMU's user network forwards a host
// port), and counts the requests relayed by method.
type udpForward struct {
	port int
	mu   sync.Mutex
	seen map[string]int
}

func newUDPForward(t *testing.T, dst string) *udpForward {
	t.Helper()
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &udpForward{port: l.LocalAddr().(*net.UDPAddr).Port, seen: map[string]int{}}
	ups := map[string]net.Conn{}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, src, err := l.ReadFrom(buf)
			if err != nil {
				return
			}
			if m, _, ok := strings.Cut(string(buf[:n]), " "); ok && !strings.HasPrefix(m, "SIP/") {
				f.mu.Lock()
				f.seen[m]++
				f.mu.Unlock()
			}
			up := ups[src.String()]
			if up == nil {
				if up, err = net.Dial("udp", dst); err != nil {
					return
				}
				t.Cleanup(func() { up.Close() })
				ups[src.String()] = up
				go func() {
					b := make([]byte, 65536)
					for {
						n, err := up.Read(b)
						if err != nil {
							return
						}
						l.WriteTo(b[:n], src)
					}
				}()
			}
			up.Write(buf[:n])
		}
	}()
	return f
}

func (f *udpForward) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[method]
}

// TestCallThroughForward: a caller that reaches the registrar through a
// port forward (the advertised address) sends its ACK and BYE where
// the Record-Route says, which must be the forward, not the port the
// registrar listens on.
func TestCallThroughForward(t *testing.T) {
	nport := freeUDPPort(t)
	r := newRig(t, sipclient.Config{Domain: "vx.example.com", Neighbor: fmt.Sprintf("127.0.0.1:%d", nport)}, map[string]string{"alice": "alicepw1"})
	fwd := newUDPForward(t, fmt.Sprintf("127.0.0.1:%d", r.port))
	if _, err := sipclient.UpdateConfig(r.root, func(c *sipclient.Config) error {
		c.Advertise = fmt.Sprintf("127.0.0.1:%d", fwd.port)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := r.svc.Status(); st.Advertise != fmt.Sprintf("127.0.0.1:%d", fwd.port) || st.AdvertiseTLS != fmt.Sprintf("127.0.0.1:%d", fwd.port+1) || st.AdvertiseSource != AdvertiseFromConfig {
		t.Errorf("advertised addresses in the status: %q, %q from %q", st.Advertise, st.AdvertiseTLS, st.AdvertiseSource)
	}
	r.port = fwd.port
	if ok, out := r.register("register.xml", "udp", "alice", "alicepw1", "Jabber"); !ok {
		t.Fatalf("registration through the forward:\n%s", out)
	}
	uasDone := r.neighbour("neighbor.xml", nport)
	if out := <-r.callAsync("call-routed.xml", "alice;vx.example.com;dave", "-d", "200"); out != "" {
		t.Fatalf("call following the Record-Route:\n%s", out)
	}
	if out := <-uasDone; out != "" {
		t.Fatalf("neighbour:\n%s", out)
	}
	if a, b := fwd.count("ACK"), fwd.count("BYE"); a != 1 || b < 1 {
		t.Errorf("through the forward: %d ACK and %d BYE, want 1 and at least 1", a, b)
	}
	r.waitUsage(agentclient.TypeRMS, 0)
}
