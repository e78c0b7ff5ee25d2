package agentclient

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"vxway/xapi"
)

func TestClusterLeaf(t *testing.T) {
	for _, tt := range []struct {
		rel  []string
		arg  string
		want string
		err  error
	}{
		{[]string{"Cluster"}, "Name", LeafClusterName, nil},
		{[]string{"cluster"}, "secret", LeafClusterSecret, nil},
		{[]string{"Cluster"}, "Lease", LeafClusterLease, nil},
		{[]string{"Peer", "3"}, "Address", "peer 3", nil},
		{[]string{"Peer", "7"}, "Address", "", ErrInvalidConfig},
		{[]string{"Peer", "x"}, "Address", "", ErrInvalidConfig},
		{[]string{"Cluster"}, "Colour", "", xapi.ErrNotFound},
	} {
		t.Run(strings.Join(tt.rel, " ")+" "+tt.arg, func(t *testing.T) {
			got, err := clusterLeaf(tt.rel, tt.arg)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// TestClusterConfigHidesSecret: the configuration says a secret is set,
// never what it is, and a peer address from the file is quoted.
func TestClusterConfigHidesSecret(t *testing.T) {
	var b bytes.Buffer
	w := xapi.NewWriter(&b)
	writeClusterConfig(w, ClusterConfig{Name: "cluster1", SecretSet: true, Peers: []string{"10.0.4.1", "\x1b[2J"}}, nil)
	out := b.String()
	for _, want := range []string{
		"*c xConfiguration Alternates Cluster Secret: " + xapi.Quote(SecretShown),
		"*c xConfiguration Alternates Peer 1 Address: 10.0.4.1",
		`*c xConfiguration Alternates Peer 2 Address: "\e[2J"`,
		`*c xConfiguration Alternates Peer 6 Address: ""`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
