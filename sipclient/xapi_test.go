package sipclient

import (
	"path/filepath"
	"strings"
	"testing"

	"vxway/xapi"
	"vxway/xapi/xapitest"
)

// TestXAPIAdvertise: the advertised address settings are set, shown
// and refused when bad, a refusal changing nothing.
func TestXAPIAdvertise(t *testing.T) {
	root := t.TempDir()
	tree := &xapi.Tree{}
	RegisterXAPI(tree, root, NewClient(filepath.Join(root, SocketPath)))
	run := func(line string) (string, bool) {
		t.Helper()
		out, err := xapitest.Serve(t, tree, line)
		if err != nil {
			out += err.Error()
		}
		return out, err == nil
	}
	tests := []struct {
		line string
		ok   bool
		want string
	}{
		{`xconfiguration SIP Advertise Address: "127.0.0.1:5070"`, true, `*c xConfiguration SIP Advertise Address: "127.0.0.1:5070"`},
		{`xconfiguration SIP Advertise TLSPort: 5081`, true, `*c xConfiguration SIP Advertise TLSPort: 5081`},
		{`xconfiguration SIP Advertise Address: "no such host:1"`, false, "advertised address"},
		{`xconfiguration SIP Advertise TLSPort: 70000`, false, "advertised TLS port"},
		{`xconfiguration SIP Advertise TLSPort: soon`, false, "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			out, ok := run(tt.line)
			if ok != tt.ok || !strings.Contains(out, tt.want) {
				t.Fatalf("ok %v, want %v; output lacks %q:\n%s", ok, tt.ok, tt.want, out)
			}
		})
	}
	c, err := LoadConfig(root)
	if err != nil || c.Advertise != "127.0.0.1:5070" || c.AdvertiseTLSPort != 5081 {
		t.Errorf("saved: %+v, %v", c, err)
	}
}
