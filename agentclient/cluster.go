package agentclient

import (
	"context"
	"net/http"
	"time"
)

// Cluster settings and status: the agent runs the device's member of the
// cluster (package cluster) and owns its settings; these are the wire
// types of the local API. The secret never comes back: ClusterConfig
// says only whether one is set.

// Cluster setting leaves of SetCluster.
const (
	LeafClusterName   = "name"
	LeafClusterSecret = "secret"
	// LeafClusterLease is the lease in whole seconds (0: the default).
	LeafClusterLease = "lease"
	// LeafClusterPeer is followed by the slot, 1 to MaxClusterPeers:
	// "peer 2".
	LeafClusterPeer = "peer"
)

// MaxClusterPeers is the number of peer address slots.
const MaxClusterPeers = 6

// ClusterChange sets one cluster leaf.
type ClusterChange struct {
	Leaf  string `json:"leaf"`
	Value string `json:"value"`
}

// ClusterConfig is the cluster setting without the secret.
type ClusterConfig struct {
	Name      string   `json:"name"`
	SecretSet bool     `json:"secret_set"`
	Peers     []string `json:"peers"`
	// LeaseSeconds is the configured lease, 0 for the default.
	LeaseSeconds int `json:"lease_seconds"`
}

// Cluster states (ClusterStatus.State).
const (
	ClusterOff     = "Off"     // not configured
	ClusterActive  = "Active"  // serving peers
	ClusterFailed  = "Error"   // configured but not running; Reason says why
	ClusterStopped = "Stopped" // the agent is shutting down
)

// ClusterStatus is what xstatus Alternates shows.
type ClusterStatus struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Address is where the node listens for its peers.
	Address      string       `json:"address,omitempty"`
	LeaseSeconds int          `json:"lease_seconds"`
	Peers        []PeerStatus `json:"peers"`
}

// PeerStatus is one configured peer (the device's own address is not
// listed). Node is the peer's serial number as it said in its hello.
type PeerStatus struct {
	Slot        int       `json:"slot"`
	Address     string    `json:"address"`
	Node        string    `json:"node,omitempty"`
	State       string    `json:"state"`
	LastContact time.Time `json:"last_contact,omitzero"`
	Reason      string    `json:"reason,omitempty"`
}

// LicenseLine is one license type's count: installed (reserved, or
// authorized when connected), in use, borrowed from peers and lent to
// them.
type LicenseLine struct {
	Type      string `json:"type"`
	Name      string `json:"name"`
	Installed int    `json:"installed"`
	InUse     int    `json:"in_use"`
	Borrowed  int    `json:"borrowed"`
	Lent      int    `json:"lent"`
}

// ClusterInfo is the cluster's settings and state.
type ClusterInfo struct {
	Config ClusterConfig `json:"config"`
	Status ClusterStatus `json:"status"`
}

// Cluster fetches the cluster settings and state.
func (c *Client) Cluster(ctx context.Context) (ClusterInfo, error) {
	var ci ClusterInfo
	err := c.call(ctx, http.MethodGet, "/v1/cluster", nil, &ci)
	return ci, err
}

// SetCluster sets one cluster leaf and returns the new settings.
func (c *Client) SetCluster(ctx context.Context, leaf, value string) (ClusterInfo, error) {
	var ci ClusterInfo
	err := c.call(ctx, http.MethodPut, "/v1/cluster", ClusterChange{Leaf: leaf, Value: value}, &ci)
	return ci, err
}
