package agent

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"vxway/clock"
)

// FuzzConfigApply: any leaf and value either is refused with the
// configuration unchanged, or gives a configuration that validates.
func FuzzConfigApply(f *testing.F) {
	for _, s := range [][2]string{
		{"Mode", "OnPrem"}, {"Mode", "carrier"}, {"URL", "https://a.example/SmartTransport"}, {"URL", "http://x/SmartTransport"},
		{"URL", "https://[::1]:8443/SmartTransport"}, {"ProxyAddress", "10.0.0.1"}, {"ProxyAddress", "proxy-.example"},
		{"ProxyPort", "3128"}, {"ProxyPort", "0"}, {"ProxyUsername", "a:b"}, {"ProxyPassword", "p\x00w"}, {"HideHostname", "On"},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, leaf, value string, registered bool) {
		c := Config{Mode: OnPrem, URL: "https://m.example/SmartTransport"}
		before := c
		n, err := c.Apply(leaf, value, registered)
		if !reflect.DeepEqual(c, before) {
			t.Fatalf("Apply changed its receiver")
		}
		if err != nil {
			if !reflect.DeepEqual(n, before) {
				t.Fatalf("refused %s=%q but returned a changed configuration", leaf, value)
			}
			return
		}
		if verr := n.validate(); verr != nil {
			t.Fatalf("accepted %s=%q giving an invalid configuration: %v", leaf, value, verr)
		}
	})
}

// FuzzLocalAPI: any request body to the local API is answered (no panic),
// and a refused registration never reaches the manager.
func FuzzLocalAPI(f *testing.F) {
	f.Add("/v1/register", `{"token":"abc"}`)
	f.Add("/v1/register", `{"token":"   "}`)
	f.Add("/v1/register", `{"token":1}`)
	f.Add("/v1/usage", `{"type":"rms","count":3}`)
	f.Add("/v1/config", `{"leaf":"Mode","value":"Proxy"}`)
	f.Add("/v1/sessions", `{"encrypted":2500,"webrtc":true}`)
	f.Add("/v1/config", strings.Repeat("[", 1000))
	clk := clock.NewFake(t0)
	m := newMemManager(clk)
	a, err := New(Options{Root: f.TempDir(), Clock: clk, Dial: m.dial, Hostname: func() string { return "h" }, IP: func() string { return "" }})
	if err != nil {
		f.Fatal(err)
	}
	if err := a.Enable(); err != nil {
		f.Fatal(err)
	}
	h := a.Handler()
	f.Fuzz(func(t *testing.T, path, body string) {
		method := http.MethodPut
		if path == "/v1/register" {
			method = http.MethodPost
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://agent"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 0 {
			t.Fatal("no answer")
		}
	})
}
