package netconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/netsettings"
	"vxway/xapi/xapitest"

	"vxway/agentclient"
	"vxway/xapi"
)

func TestXAPIWithRunningService(t *testing.T) {
	root := t.TempDir()
	ts := startService(t, root)
	<-ts.ready
	var tree xapi.Tree
	RegisterXAPI(&tree, root)

	steps := []struct {
		line    string
		wantErr bool
		want    []string // substrings of the answer
	}{
		{line: "xstatus Network", want: []string{
			`*s Network State: "Up"`, `*s Network IPv4 DHCP: "On"`, `*s Network IPv4 Address: "10.0.2.15"`,
			`*s Network IPv4 PrefixLength: 24`, `*s Network IPv4 Gateway: "10.0.2.2"`,
			`*s Network DNS Source: "DHCP"`, `*s Network DNS Server 1 Address: "10.0.2.3"`, "OK"}},
		{line: "xconfiguration DNS Server 1 Address: 10.0.2.2", want: []string{"OK"}},
		{line: "xconfiguration DNS Domain Name: example.test", want: []string{"OK"}},
		{line: "xconfiguration NTP Server 2 Address: ntp.example.test", want: []string{"OK"}},
		{line: "xstatus Network", want: []string{
			`*s Network DNS Source: "Configured"`, `*s Network DNS Server 1 Address: "10.0.2.2"`,
			`*s Network DNS Domain Name: "example.test"`, `*s Network NTP Server 1 Address: "ntp.example.test"`}},
		{line: "xconfiguration DNS", want: []string{
			"*c xConfiguration DNS Server 1 Address: 10.0.2.2", `*c xConfiguration DNS Server 2 Address: ""`,
			"*c xConfiguration DNS Domain Name: example.test"}},
		{line: "xconfiguration NTP Server 2", want: []string{"*c xConfiguration NTP Server 2 Address: ntp.example.test"}},
		{line: "xconfiguration DNS Server 6 Address: 10.0.2.9", wantErr: true, want: []string{"the server number is 1 to 5", "ERROR"}},
		{line: "xconfiguration DNS Server 2 Address: 10.0.2.2", wantErr: true, want: []string{"already DNS Server 1"}},
		{line: "xconfiguration DNS Server 2 Address: dns.example", wantErr: true, want: []string{"is not an IP address"}},
		{line: "xconfiguration DNS Domain Name: bad..name", wantErr: true, want: []string{"empty label"}},
		{line: "xconfiguration NTP Server 1 Address: bad!", wantErr: true, want: []string{"neither an IP address nor a host name"}},
		{line: "xconfiguration IP DHCP: Off", wantErr: true, want: []string{"set the static address first"}},
		{line: "xconfiguration IP DHCP: Maybe", wantErr: true, want: []string{"On or Off"}},
		{line: "xconfiguration IP Address: 300.1.1.1", wantErr: true, want: []string{"not an IPv4 address"}},
		{line: "xconfiguration IP Address: 10.0.2.20/24", want: []string{"OK"}},
		{line: "xconfiguration IP Gateway: 10.9.9.9", wantErr: true, want: []string{"outside the device's subnet 10.0.2.0/24"}},
		{line: "xconfiguration IP Gateway: 10.0.2.2", want: []string{"OK"}},
		{line: "xconfiguration IP PrefixLength: 40", wantErr: true, want: []string{"40 is not a prefix length"}},
		{line: "xconfiguration IP Color: Blue", wantErr: true, want: []string{"no IP Color"}},
		{line: "xconfiguration IP DHCP: Off", want: []string{"OK"}},
		{line: "xconfiguration IP", want: []string{
			"*c xConfiguration IP DHCP: Off", "*c xConfiguration IP Address: 10.0.2.20",
			"*c xConfiguration IP PrefixLength: 24", "*c xConfiguration IP Gateway: 10.0.2.2"}},
		{line: "xstatus Network", want: []string{`*s Network IPv4 DHCP: "Off"`, `*s Network IPv4 Address: "10.0.2.20"`}},
		{line: "xconfiguration IP Address: \"\"", wantErr: true, want: []string{"turn DHCP On first"}},
		{line: "xconfiguration DNS Server 1 Address: \"\"", want: []string{"OK"}},
	}
	for _, s := range steps {
		got, err := xapitest.Serve(t, &tree, s.line)
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: error %v, wantErr %v\n%s", s.line, err, s.wantErr, got)
		}
		for _, w := range s.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: answer lacks %q:\n%s", s.line, w, got)
			}
		}
	}
	if a, gw := ts.link.state(); a.String() != "10.0.2.20/24" || gw.String() != "10.0.2.2" {
		t.Errorf("static applied as %v via %v, want 10.0.2.20/24 via 10.0.2.2", a, gw)
	}
	r := readResolv(t, root)
	if strings.Contains(r, "nameserver") || !strings.Contains(r, "search example.test") {
		t.Errorf("resolv.conf after clearing the only DNS server on static:\n%s", r)
	}
	c, err := netsettings.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if c.DHCP || c.Address != "10.0.2.20" || len(c.DNSServers) != 0 || netsettings.Servers(c.NTPServers)[0] != "ntp.example.test" {
		t.Errorf("persisted %+v", c)
	}
}

func TestXAPIRejectedChangeLeavesFileAlone(t *testing.T) {
	root := t.TempDir()
	var tree xapi.Tree
	RegisterXAPI(&tree, root)
	if _, err := xapitest.Serve(t, &tree, "xconfiguration DNS Server 1 Address: not-an-ip"); err == nil {
		t.Fatal("a bad DNS server was accepted")
	}
	if _, err := os.Stat(filepath.Join(root, netsettings.ConfigPath)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a rejected change wrote network.json: %v", err)
	}
}

func TestXAPIWithoutService(t *testing.T) {
	root := t.TempDir()
	tree := xapi.Tree{}
	h := &handlers{root: root, wait: 50 * time.Millisecond}
	tree.Handle(xapi.Configuration, "DNS", h.locked(h.dns))
	tree.Handle(xapi.Status, "Network", h.status)
	got, err := xapitest.Serve(t, &tree, "xconfiguration DNS Server 1 Address: 10.0.2.2")
	if err != nil || !strings.Contains(got, "applies at next boot") {
		t.Fatalf("answer %v:\n%s", err, got)
	}
	got, err = xapitest.Serve(t, &tree, "xstatus Network")
	if err != nil || !strings.Contains(got, `*s Network State: "NotRunning"`) || !strings.Contains(got, `DNS Server 1 Address: "10.0.2.2"`) {
		t.Fatalf("answer %v:\n%s", err, got)
	}
}

func TestNotifyAgent(t *testing.T) {
	root := t.TempDir()
	if err := NotifyAgent(context.Background(), root); !errors.Is(err, ErrAgentNotRunning) {
		t.Fatalf("NotifyAgent without agent = %v, want ErrAgentNotRunning", err)
	}
	// Unix socket paths are short; a temp dir under /tmp keeps it so.
	sockRoot, err := os.MkdirTemp("", "nc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockRoot) })
	sock := filepath.Join(sockRoot, agentclient.SocketPath)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path
		if r.URL.Path != "/v1/retry" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"registration": "Registered"}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if err := NotifyAgent(context.Background(), sockRoot); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "POST /v1/retry" {
		t.Fatalf("agent got %q, want POST /v1/retry", g)
	}
}

// TestXAPIConcurrentChanges sets the five DNS slots from five goroutines
// at once: with the lock, none of the changes is lost.
func TestXAPIConcurrentChanges(t *testing.T) {
	root := t.TempDir()
	var tree xapi.Tree
	h := &handlers{root: root, wait: 0}
	tree.Handle(xapi.Configuration, "DNS", h.locked(h.dns))
	var wg sync.WaitGroup
	for i := 1; i <= netsettings.MaxDNSServers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := xapi.ParseLine(fmt.Sprintf("xconfiguration DNS Server %d Address: 10.0.0.%d", i, i))
			var b bytes.Buffer
			if err := tree.Serve(context.Background(), req, xapi.NewWriter(&b)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c, err := netsettings.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.DNSServers, ","); got != "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5" {
		t.Fatalf("DNS servers after concurrent changes: %s", got)
	}
}
