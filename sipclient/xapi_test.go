package sipclient

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"vxway/xapi"
)

// TestXAPIAdvertise: the advertised address settings are set, shown
// and refused when bad, a refusal changing nothing.
func TestXAPIAdvertise(t *testing.T) {
	root := t.TempDir()
	tree := &xapi.Tree{}
	RegisterXAPI(tree, root, NewClient(filepath.Join(root, SocketPath)))
	run := func(line string) (string, bool) {
		t.Helper()
		req, err := xapi.ParseLine(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var out bytes.Buffer
		err = tree.Serve(context.Background(), req, xapi.NewWriter(&out))
		if err != nil {
			out.WriteString(err.Error())
		}
		return out.String(), err == nil
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
