package agentclient

import (
	"reflect"
	"testing"
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
		if verr := n.Validate(); verr != nil {
			t.Fatalf("accepted %s=%q giving an invalid configuration: %v", leaf, value, verr)
		}
	})
}
