package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/platform"
	"vxway/xapi"
	"vxway/xapi/xapitest"
)

// xapiRig serves an agent on a unix socket and runs xAPI lines against it
// through the same Client and Tree the admin shell uses.
type xapiRig struct {
	t    *testing.T
	a    *Agent
	tree *xapi.Tree
	root string
	m    *memManager
	clk  *clock.Fake
}

func newXAPIRig(t *testing.T) *xapiRig {
	t.Helper()
	return newXAPIRigAt(t, expresswayRoot(t))
}

// newXAPIRigAt serves the agent of the device root root.
func newXAPIRigAt(t *testing.T, root string) *xapiRig {
	t.Helper()
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	a := newTestAgent(t, root, clk, m)
	sock := filepath.Join(root, agentclient.SocketPath)
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHandler(ctx, ln, a.handler(), DevicePolicy(uint32(os.Getuid()))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	tree := &xapi.Tree{}
	agentclient.RegisterXAPI(tree, agentclient.NewClient(sock))
	return &xapiRig{t: t, a: a, tree: tree, root: root, m: m, clk: clk}
}

// run serves one line and returns the output and whether it ended in OK.
func (r *xapiRig) run(line string) (string, bool) {
	r.t.Helper()
	out, err := xapitest.Serve(r.t, r.tree, line)
	return out, err == nil
}

func (r *xapiRig) ok(line string) string {
	r.t.Helper()
	out, ok := r.run(line)
	if !ok {
		r.t.Fatalf("%s:\n%s", line, out)
	}
	return out
}

func TestXAPIBadInputChangesNothing(t *testing.T) {
	r := newXAPIRig(t)
	r.ok("xconfiguration License Smart Enabled: On")
	cfgPath := filepath.Join(r.root, configFile)
	r.ok(`xconfiguration License Smart Transport Mode: OnPrem`)
	r.ok(`xconfiguration License Smart Transport URL: "https://ssm.example.com/SmartTransport"`)
	before, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	stateBefore, _ := os.ReadFile(filepath.Join(r.root, stateFile))
	tests := []struct {
		name, line, reason string
	}{
		{"unknown transport", "xconfiguration License Smart Transport Mode: Carrier-Pigeon", "use Direct, OnPrem or Proxy"},
		{"http URL", `xconfiguration License Smart Transport URL: "http://ssm.example.com/SmartTransport"`, "must start with https://"},
		{"wrong path", `xconfiguration License Smart Transport URL: "https://ssm.example.com/other"`, "must end in /SmartTransport"},
		{"query", `xconfiguration License Smart Transport URL: "https://ssm.example.com/SmartTransport?x=1"`, "no user, query or fragment"},
		{"bad host", `xconfiguration License Smart Transport URL: "https://ssm_bad!/SmartTransport"`, "not a valid host name"},
		{"garbage URL", `xconfiguration License Smart Transport URL: "::not a url"`, "https"},
		{"proxy IPv6", `xconfiguration License Smart Transport Proxy Address: "2001:db8::1"`, "IPv4 address or an FQDN"},
		{"proxy port", `xconfiguration License Smart Transport Proxy Port: 70000`, "not a number from 1 to 65535"},
		{"proxy port word", `xconfiguration License Smart Transport Proxy Port: eighty`, "not a number from 1 to 65535"},
		{"proxy user colon", `xconfiguration License Smart Transport Proxy Username: "a:b"`, "must not contain ':'"},
		{"privacy value", `xconfiguration License Smart Privacy HideHostname: Maybe`, "not On or Off"},
		{"unknown leaf", `xconfiguration License Smart Transport Colour: Blue`, "no such path"},
		{"empty token", `xcommand License Smart Register Token: ""`, "the token is empty"},
		{"blank token", `xcommand License Smart Register Token: "   "`, "the token is empty"},
		{"token with space", `xcommand License Smart Register Token: "abc def"`, "white space"},
		{"token missing", `xcommand License Smart Register`, "Token: is missing"},
		{"disable", `xconfiguration License Smart Enabled: Off`, "cannot be turned off"},
		{"deregister unregistered", `xcommand License Smart Deregister`, "not registered"},
		{"renew unregistered", `xcommand License Smart RenewAuthorization`, "not registered"},
		{"usage type", `xcommand License Smart Usage Set Type: telepresence Count: 3`, "use rms, room or desktop"},
		{"usage count", `xcommand License Smart Usage Set Type: rms Count: -1`, "not from 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := r.run(tt.line)
			if ok {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(out, tt.reason) || !strings.HasSuffix(out, "ERROR\n") {
				t.Errorf("output does not say %q:\n%s", tt.reason, out)
			}
			after, _ := os.ReadFile(cfgPath)
			if !bytes.Equal(after, before) {
				t.Errorf("configuration changed:\n%s", after)
			}
			if st, _ := os.ReadFile(filepath.Join(r.root, stateFile)); !bytes.Equal(st, stateBefore) {
				t.Errorf("state changed:\n%s", st)
			}
		})
	}
	if n := r.m.count("register"); n != 0 {
		t.Errorf("bad tokens reached the manager %d times", n)
	}
}

func TestXAPIRegisterFlow(t *testing.T) {
	r := newXAPIRigAt(t, vcsRoot(t))
	r.m.tokens["tok-a"] = memToken{va: "Sales", export: true}
	r.m.tokens["tok-b"] = memToken{va: "Support"}
	r.m.tokens["tok-old"] = memToken{refusal: "the token expired on 2025-12-01"}
	r.m.licenses["Sales"] = map[string]int{agentclient.TypeRMS: 5}

	out := r.ok("xstatus License Smart")
	if !strings.Contains(out, `*s License Smart Registration Status: "Unregistered"`) ||
		!strings.Contains(out, `*s License Smart Authorization Status: "Not Applicable"`) {
		t.Errorf("before enabling:\n%s", out)
	}
	// A VCS has option keys only; Smart Licensing comes with Service
	// Select, and the refusal starts no evaluation.
	if out, ok := r.run("xconfiguration License Smart Enabled: On"); ok || !strings.Contains(out, "xconfiguration SystemUnit ServiceSelect Brand: Expressway") {
		t.Errorf("Enabled: On on a VCS:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(r.root, anchorFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused enable touched the evaluation anchor: %v", err)
	}
	if err := platform.SetBrand(r.root, platform.BrandExpressway, r.clk); err != nil {
		t.Fatal(err)
	}
	r.ok("xconfiguration License Smart Enabled: On")
	r.ok(`xconfiguration License Smart Transport Proxy Password: "s3cret-pw"`)
	r.ok(`xconfiguration License Smart Privacy HideHostname: On`)
	cfg := r.ok("xconfiguration License Smart")
	for _, want := range []string{`*c xConfiguration License Smart Transport Mode: Direct`, `*c xConfiguration License Smart Transport Proxy Password: "***"`, `*c xConfiguration License Smart Privacy HideHostname: On`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("configuration lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "s3cret-pw") {
		t.Errorf("configuration shows the proxy password:\n%s", cfg)
	}

	out, ok := r.run(`xcommand License Smart Register Token: "tok-old"`)
	if ok || !strings.Contains(out, "the token expired on 2025-12-01") {
		t.Errorf("expired token:\n%s", out)
	}
	if s := r.ok("xstatus License Smart Registration Status"); !strings.Contains(s, `"Unregistered: Registration Failed"`) {
		t.Errorf("after refused token:\n%s", s)
	}

	r.ok(`xcommand License Smart Register Token: "tok-a"`)
	if r.m.lastHost != "" || r.m.lastIP != "" {
		t.Errorf("privacy flag on, yet the manager got hostname %q and IP %q", r.m.lastHost, r.m.lastIP)
	}
	r.ok("xcommand License Smart Usage Set Type: rms Count: 3")
	r.ok("xcommand License Smart UpdateUsage")
	out = r.ok("xstatus License Smart")
	for _, want := range []string{
		`*s License Smart Registration Status: "Registered"`,
		`*s License Smart Authorization Status: "Authorized"`,
		`*s License Smart SmartAccount: "Acme"`,
		`*s License Smart VirtualAccount: "Sales"`,
		`*s License Smart ExportControlled: "Allowed"`,
		`*s License Smart Usage 1 Type: "Rich Media Session"`,
		`*s License Smart Usage 1 Count: 3`,
		`*s License Smart Usage 1 Status: "Authorized"`,
		`*s License Smart ExportControl Limit: 2500`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"tok-a", "s3cret-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("status shows a secret %q:\n%s", secret, out)
		}
	}

	// A type newly in use waits for the manager's answer: the overall
	// status does not claim Authorized meanwhile.
	r.ok("xcommand License Smart Usage Set Type: room Count: 2")
	out = r.ok("xstatus License Smart")
	for _, want := range []string{
		`*s License Smart Authorization Status: "Not Applicable"`,
		`*s License Smart Usage 1 Status: "Authorized"`,
		`*s License Smart Usage 2 Type: "Room Registration"`,
		`*s License Smart Usage 2 Status: "Waiting"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("new type in use: status lacks %s:\n%s", want, out)
		}
	}
	r.ok("xcommand License Smart Usage Set Type: room Count: 0")
	if s := r.ok("xstatus License Smart Authorization Status"); !strings.Contains(s, `"Authorized"`) {
		t.Errorf("new type out of use again:\n%s", s)
	}
	// A type that waits does not hide one out of compliance.
	r.ok("xcommand License Smart Usage Set Type: rms Count: 7")
	r.ok("xcommand License Smart UpdateUsage")
	r.ok("xcommand License Smart Usage Set Type: room Count: 2")
	if s := r.ok("xstatus License Smart Authorization Status"); !strings.Contains(s, `"Out-of-compliance"`) {
		t.Errorf("rms out of compliance, room waiting:\n%s", s)
	}
	r.ok("xcommand License Smart Usage Set Type: room Count: 0")
	r.ok("xcommand License Smart Usage Set Type: rms Count: 3")
	r.ok("xcommand License Smart UpdateUsage")
	if s := r.ok("xstatus License Smart Authorization Status"); !strings.Contains(s, `"Authorized"`) {
		t.Errorf("back to 3 rms:\n%s", s)
	}

	// Switching to On-Prem while registered is refused.
	out, ok = r.run("xconfiguration License Smart Transport Mode: OnPrem")
	if ok || !strings.Contains(out, "deregistered first") {
		t.Errorf("switch while registered:\n%s", out)
	}
	r.ok("xconfiguration License Smart Transport Mode: Proxy")

	out, ok = r.run(`xcommand License Smart Register Token: "tok-b"`)
	if ok || !strings.Contains(out, "Reregister: Yes") {
		t.Errorf("register twice:\n%s", out)
	}
	r.ok(`xcommand License Smart Register tok-b Reregister: Yes`) // a bare token is a path word
	if s := r.ok("xstatus License Smart VirtualAccount"); !strings.Contains(s, `"Support"`) {
		t.Errorf("after reregister:\n%s", s)
	}
	if s := r.ok("xstatus License Smart ExportControlled"); !strings.Contains(s, `"Not Allowed"`) {
		t.Errorf("after reregister with a token without export control:\n%s", s)
	}

	// Deregister with the manager down: local, with the warning.
	r.m.setDown(errTimedOut())
	out = r.ok("xcommand License Smart Deregister")
	if !strings.Contains(out, "remove product instance") || !strings.Contains(out, "by hand") {
		t.Errorf("deregister while the manager is down:\n%s", out)
	}
	if s := r.ok("xstatus License Smart"); !strings.Contains(s, `Registration Status: "Unregistered"`) || !strings.Contains(s, `Authorization Status: "Evaluation Mode"`) {
		t.Errorf("after deregistering:\n%s", s)
	}
	r.ok("xconfiguration License Smart Transport Mode: OnPrem")
	// The administrator removes the instance on the manager by hand.
	r.m.mu.Lock()
	clear(r.m.inst)
	r.m.mu.Unlock()

	// Registration with the manager down is pending and retried.
	r.m.setDown(errTimedOut())
	out, ok = r.run(`xcommand License Smart Register Token: "tok-a"`)
	if ok || !strings.Contains(out, "retrying every 15 minutes") {
		t.Errorf("register while down:\n%s", out)
	}
	s := r.ok("xstatus License Smart")
	if !strings.Contains(s, `"Unregistered: Registration Pending"`) || !strings.Contains(s, "operation timed out") {
		t.Errorf("pending status:\n%s", s)
	}
	// The vendor document's sentence for a registration that cannot reach
	// the server, in the answer and in the status.
	const attempt = "The last attempt to renew smart software licensing registration is in progress because of the following reason: "
	if !strings.Contains(out, attempt) || !strings.Contains(s, `*s License Smart FailureReason: "`+attempt) {
		t.Errorf("the pending registration does not give the document's reason:\n%s\n%s", out, s)
	}
	r.m.setDown(nil)
	r.clk.Advance(RetryEvery)
	if s := r.ok("xstatus License Smart Registration Status"); !strings.Contains(s, `"Registered"`) {
		t.Errorf("after the retry:\n%s", s)
	}
}

// TestRetryNow: a change of network configuration retries at once what
// waits for its 15-minute retry, without moving the clock.
func TestRetryNow(t *testing.T) {
	r := newXAPIRig(t)
	c := agentclient.NewClient(filepath.Join(r.root, agentclient.SocketPath))
	ctx := context.Background()
	r.m.tokens["tok-a"] = memToken{va: "Sales", export: true}
	r.m.licenses["Sales"] = map[string]int{agentclient.TypeRMS: 5}
	r.ok("xconfiguration License Smart Enabled: On")
	r.ok("xconfiguration License Smart Transport Mode: OnPrem")
	r.ok(`xconfiguration License Smart Transport URL: "https://ssm.example.test/SmartTransport"`)

	// Nothing waits: a retry sends nothing.
	if _, err := c.Retry(ctx); err != nil {
		t.Fatal(err)
	}
	if n := r.m.count("register"); n != 0 {
		t.Fatalf("a retry with nothing waiting sent %d registrations", n)
	}

	// A registration pending after a failure is retried at once.
	r.m.setDown(errTimedOut())
	if out, ok := r.run(`xcommand License Smart Register Token: "tok-a"`); ok || !strings.Contains(out, "retrying every 15 minutes") {
		t.Fatalf("register while down:\n%s", out)
	}
	r.m.setDown(nil)
	st, err := c.Retry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Registration != agentclient.RegRegistered {
		t.Fatalf("after the retry: registration %q, want %q", st.Registration, agentclient.RegRegistered)
	}

	// A registered device checks in: an offline one (a reset kept its
	// registration but DNS is missing) shows 30042 and 30044.
	r.m.setDown(errTimedOut())
	before := r.m.count("authorize")
	if _, err := c.Retry(ctx); err != nil {
		t.Fatal(err)
	}
	if r.m.count("authorize") != before+1 {
		t.Fatalf("a registered device sent %d authorization requests on a retry, want 1", r.m.count("authorize")-before)
	}
	if on := diskAlarms(t, r.root); !slices.Contains(on, 30042) || !slices.Contains(on, 30044) {
		t.Fatalf("alarms after checking in offline: %v, want 30042 and 30044 among them", on)
	}
	r.m.setDown(nil)
	if _, err := c.Retry(ctx); err != nil {
		t.Fatal(err)
	}
	if on := diskAlarms(t, r.root); slices.Contains(on, 30042) || slices.Contains(on, 30044) {
		t.Fatalf("alarms after checking in online: %v, want 30042 and 30044 cleared", on)
	}

	// A failed authorization renewal (alarms 30042, 30044) is retried at
	// once and its alarms clear.
	r.m.setDown(errTimedOut())
	if out, ok := r.run("xcommand License Smart RenewAuthorization"); ok {
		t.Fatalf("renewal while down succeeded:\n%s", out)
	}
	if on := diskAlarms(t, r.root); !slices.Contains(on, 30042) || !slices.Contains(on, 30044) {
		t.Fatalf("alarms after the failed renewal: %v, want 30042 and 30044 among them", on)
	}
	r.m.setDown(nil)
	if _, err := c.Retry(ctx); err != nil {
		t.Fatal(err)
	}
	if on := diskAlarms(t, r.root); slices.Contains(on, 30042) || slices.Contains(on, 30044) {
		t.Fatalf("alarms after the retry: %v, want 30042 and 30044 cleared", on)
	}
}

func TestUnauthorizedRefusesEndpoints(t *testing.T) {
	r := newXAPIRig(t)
	r.ok("xconfiguration License Smart Enabled: On")
	r.ok("xcommand License Smart Usage Set Type: desktop Count: 2")
	r.clk.Advance(EvaluationPeriod)
	out, ok := r.run("xcommand License Smart Usage Set Type: desktop Count: 3")
	if ok || !strings.Contains(out, "new desktop registrations are refused") {
		t.Errorf("new registration while Unauthorized:\n%s", out)
	}
	c := agentclient.NewClient(filepath.Join(r.root, agentclient.SocketPath))
	if err := c.SetUsage(context.Background(), agentclient.TypeRoom, 1); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Errorf("usage API: %v, want ErrUnauthorized", err)
	}
}
