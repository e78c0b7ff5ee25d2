package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Name: "cluster1", Secret: secret, Peers: []string{"10.0.4.1", "10.0.4.2:4371", ""}}
	for _, tt := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"good", func(*Config) {}, ""},
		{"short secret", func(c *Config) { c.Secret = "short" }, "too short"},
		{"control in name", func(c *Config) { c.Name = "a\x1bb" }, "control character"},
		{"long name", func(c *Config) { c.Name = strings.Repeat("n", 65) }, "at most 64"},
		{"host name", func(c *Config) { c.Peers = []string{"peer.example.com"} }, "not an IP address"},
		{"same peer twice", func(c *Config) { c.Peers = []string{"10.0.4.1", "10.0.4.1:4371"} }, "repeats peer 1"},
		{"seven peers", func(c *Config) {
			c.Peers = strings.Split("1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7", " ")
		}, "at most 6"},
		{"multicast", func(c *Config) { c.Peers = []string{"224.0.0.1"} }, "cannot be"},
		{"short lease", func(c *Config) { c.Lease = time.Second }, "lease"},
		{"long lease", func(c *Config) { c.Lease = 3 * time.Minute }, "lease"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			c.Peers = append([]string(nil), good.Peers...)
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrBadConfig) {
				t.Fatalf("got %v, want an ErrBadConfig saying %q", err, tt.want)
			}
		})
	}
}

func TestConfigActive(t *testing.T) {
	if (Config{Name: "c", Secret: secret, Peers: []string{""}}).Active() {
		t.Error("a cluster without a peer address is active")
	}
	if !(Config{Name: "c", Secret: secret, Peers: []string{"", "10.0.4.2"}}).Active() {
		t.Error("a full cluster is not active")
	}
	if (Config{Name: "c", Peers: []string{"10.0.4.2"}}).Active() {
		t.Error("a cluster without a secret is active")
	}
}
